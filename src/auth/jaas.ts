/**
 * A parser for JAAS login configuration files (the syntax of Java's default ConfigFile), which
 * ZooKeeper reads through `java.security.auth.login.config`:
 *
 *   Server {
 *     org.apache.zookeeper.server.auth.DigestLoginModule required
 *       user_bob="bobsecret";
 *   };
 *
 * Sections of login modules, each with a control flag and `key=value` options; `//` and
 * `/* ... *\/` comments. Errors name the line. Java's `${property}` expansion is not done.
 */

export interface JaasModule {
  className: string;
  flag: 'required' | 'requisite' | 'sufficient' | 'optional';
  options: ReadonlyMap<string, string>;
  /** Line of the class name, for messages. */
  line: number;
}

export type JaasConfig = ReadonlyMap<string, readonly JaasModule[]>;

export class JaasError extends Error {
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'JaasError';
  }
}

type Token = { kind: 'word' | 'quoted' | 'punct'; text: string; line: number };

const FLAGS = new Set(['required', 'requisite', 'sufficient', 'optional']);
/** Letters, digits and the extra word characters of Java's ConfigFile tokenizer. */
const WORD = /[A-Za-z0-9._$*\-\u00a0-\uffff]/;

export function parseJaas(text: string): JaasConfig {
  const tokens = new TokenStream(tokenize(text));
  const sections = new Map<string, JaasModule[]>();
  while (!tokens.atEnd()) {
    const name = tokens.expectValue('a section name, such as Server');
    if (sections.has(name.text)) throw new JaasError(name.line, `section '${name.text}' is defined twice`);
    tokens.expectPunct('{', `after section name '${name.text}'`);
    const modules: JaasModule[] = [];
    while (!tokens.peekPunct('}')) modules.push(parseModule(tokens, name.text));
    tokens.expectPunct('}', `to close section '${name.text}'`);
    tokens.expectPunct(';', `after the '}' of section '${name.text}'`);
    if (modules.length === 0) throw new JaasError(name.line, `section '${name.text}' has no login module`);
    sections.set(name.text, modules);
  }
  return sections;
}

function parseModule(tokens: TokenStream, section: string): JaasModule {
  const cls = tokens.next(`a login module class name in section '${section}'`);
  if (cls.kind !== 'word') throw new JaasError(cls.line, `expected a login module class name in section '${section}', found '${cls.text}'`);
  const flagToken = tokens.next(`the control flag after ${cls.text}`);
  const flag = flagToken.text.toLowerCase();
  if (flagToken.kind !== 'word' || !FLAGS.has(flag)) {
    throw new JaasError(flagToken.line, `invalid control flag '${flagToken.text}' after ${cls.text}: expected required, requisite, sufficient or optional`);
  }
  const options = new Map<string, string>();
  while (!tokens.peekPunct(';')) {
    const key = tokens.next(`an option or ';' after ${cls.text}`);
    if (key.kind !== 'word') throw new JaasError(key.line, `expected an option name or ';' in the entry of ${cls.text}, found '${key.text}' (is a ';' missing?)`);
    tokens.expectPunct('=', `after option ${key.text}`);
    const value = tokens.expectValue(`the value of option ${key.text}`);
    if (options.has(key.text)) throw new JaasError(key.line, `option ${key.text} is given twice in the entry of ${cls.text}`);
    options.set(key.text, value.text);
  }
  tokens.expectPunct(';', `to end the entry of ${cls.text}`);
  return { className: cls.text, flag: flag as JaasModule['flag'], options, line: cls.line };
}

class TokenStream {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  atEnd(): boolean {
    return this.at >= this.tokens.length;
  }

  private lastLine(): number {
    return this.tokens[this.tokens.length - 1]?.line ?? 1;
  }

  next(what: string): Token {
    const t = this.tokens[this.at++];
    if (t === undefined) throw new JaasError(this.lastLine(), `unexpected end of file: expected ${what}`);
    return t;
  }

  peekPunct(text: string): boolean {
    const t = this.tokens[this.at];
    if (t === undefined) throw new JaasError(this.lastLine(), `unexpected end of file: expected '${text}'`);
    return t.kind === 'punct' && t.text === text;
  }

  expectPunct(text: string, where: string): void {
    const t = this.next(`'${text}' ${where}`);
    if (t.kind !== 'punct' || t.text !== text) throw new JaasError(t.line, `expected '${text}' ${where}, found '${t.text}'`);
  }

  expectValue(what: string): Token {
    const t = this.next(what);
    if (t.kind === 'punct') throw new JaasError(t.line, `expected ${what}, found '${t.text}'`);
    return t;
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new JaasError(line, 'unterminated /* comment');
      for (let k = i; k < end; k++) if (text[k] === '\n') line++;
      i = end + 2;
    } else if (c === '"' || c === "'") {
      const start = line;
      let value = '';
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\n') throw new JaasError(start, `unterminated quoted string (a ${c} is missing before the end of the line)`);
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i++];
      }
      if (i >= text.length) throw new JaasError(start, 'unterminated quoted string');
      i++;
      tokens.push({ kind: 'quoted', text: value, line: start });
    } else if ('{};='.includes(c)) {
      tokens.push({ kind: 'punct', text: c, line });
      i++;
    } else if (WORD.test(c)) {
      let end = i;
      while (end < text.length && WORD.test(text[end]!)) end++;
      tokens.push({ kind: 'word', text: text.slice(i, end), line });
      i = end;
    } else {
      throw new JaasError(line, `unexpected character '${c}'`);
    }
  }
  return tokens;
}
