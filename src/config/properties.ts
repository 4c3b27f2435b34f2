/**
 * The java.util.Properties syntax zoo.cfg is written in. Pure: text in, entries out.
 */
import { ConfigError } from './config.js';

/** One key/value pair, in file order, with the 1-based line it started on. */
export interface PropertyEntry {
  key: string;
  value: string;
  line: number;
}

const WS = new Set([' ', '\t', '\f']);

/**
 * Splits text the way java.util.Properties.load does: natural lines end at \n, \r or \r\n; a line
 * whose first non-blank character is # or ! is a comment (and is never continued); a line ending
 * in an odd number of backslashes continues on the next one, whose leading blanks are dropped;
 * the key ends at the first unescaped '=', ':' or blank, and one '=' or ':' (with blanks around
 * it) separates it from the value; escapes \t \n \r \f \uXXXX are decoded and a backslash before
 * any other character yields that character. Keys and values are returned untrimmed.
 */
export function parseProperties(text: string): PropertyEntry[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const natural = text.split(/\r\n|\r|\n/);
  const out: PropertyEntry[] = [];
  let i = 0;
  while (i < natural.length) {
    const startLine = i + 1;
    let line = stripLeading(natural[i]!);
    i++;
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    // Join continuation lines.
    while (endsWithOddBackslashes(line)) {
      line = line.slice(0, -1);
      if (i >= natural.length) break;
      line += stripLeading(natural[i]!);
      i++;
    }
    const { key, value } = splitKeyValue(line, startLine);
    out.push({ key, value, line: startLine });
  }
  return out;
}

function stripLeading(s: string): string {
  let j = 0;
  while (j < s.length && WS.has(s[j]!)) j++;
  return s.slice(j);
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let j = s.length - 1; j >= 0 && s[j] === '\\'; j--) n++;
  return n % 2 === 1;
}

function splitKeyValue(line: string, lineNo: number): { key: string; value: string } {
  let j = 0;
  let keyEnd = line.length;
  let valueStart = line.length;
  while (j < line.length) {
    const c = line[j]!;
    if (c === '\\') {
      j += 2;
      continue;
    }
    if (c === '=' || c === ':') {
      keyEnd = j;
      valueStart = j + 1;
      break;
    }
    if (WS.has(c)) {
      keyEnd = j;
      let k = j;
      while (k < line.length && WS.has(line[k]!)) k++;
      if (k < line.length && (line[k] === '=' || line[k] === ':')) k++;
      valueStart = k;
      break;
    }
    j++;
  }
  if (keyEnd > line.length) keyEnd = line.length;
  let v = valueStart;
  while (v < line.length && WS.has(line[v]!)) v++;
  return { key: unescape(line.slice(0, keyEnd), lineNo), value: unescape(line.slice(v), lineNo) };
}

function unescape(s: string, lineNo: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let j = 0; j < s.length; j++) {
    const c = s[j]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    j++;
    if (j >= s.length) break; // a lone trailing backslash is dropped
    const e = s[j]!;
    switch (e) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        const hex = s.slice(j + 1, j + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          throw new ConfigError(`line ${lineNo}: malformed \\uxxxx escape '\\u${hex}'`);
        }
        out += String.fromCharCode(parseInt(hex, 16));
        j += 4;
        break;
      }
      default: out += e;
    }
  }
  return out;
}

