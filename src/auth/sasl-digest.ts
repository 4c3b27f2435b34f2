/**
 * The server side of SASL DIGEST-MD5 (RFC 2831) as ZooKeeper runs it: Java's DIGEST-MD5 server
 * created with protocol "zookeeper" and server name "zk-sasl-md5", quality of protection "auth"
 * only (no integrity or privacy layer: ZooKeeper never wraps its traffic).
 *
 * Two steps: the client's empty initial token gets a digest-challenge; its digest-response is
 * checked against the password of the user it names and answered with `rspauth`, which ends the
 * exchange. Pure: the nonce and the password lookup come from the caller.
 */
import { md5, md5Hex } from './md5.js';

/** ZooKeeper's fixed DIGEST-MD5 realm and server name (SecurityUtils, ZooKeeperSaslServer). */
export const ZK_SASL_REALM = 'zk-sasl-md5';
export const ZK_SASL_PROTOCOL = 'zookeeper';

/** RFC 2831 2.1.2: a digest-response is at most 4096 bytes. */
const MAX_RESPONSE_BYTES = 4096;

/** A failed exchange; the message says why, in the words of Java's DIGEST-MD5 server where it has them. */
export class SaslError extends Error {
  constructor(message: string) {
    super(`DIGEST-MD5: ${message}`);
    this.name = 'SaslError';
  }
}

export interface DigestMd5Options {
  /** A fresh, unpredictable nonce (the caller's random source), as printable ASCII without quotes. */
  nonce: string;
  /** The password of `user`, or null when the user is unknown. */
  password(user: string): string | null;
  /** SASL protocol and server name (the realm); ZooKeeper's client port by default, `zookeeper-quorum`/`zk-quorum-sasl-md5` between servers. */
  protocol?: string;
  serverName?: string;
}

/** Who authenticated: the user name that was checked, and the authzid the client asked for (or null). */
export interface DigestMd5Identity {
  authenticationId: string;
  authorizationId: string | null;
}

type Step = 'challenge' | 'response' | 'done' | 'failed';

export class DigestMd5Server {
  private step: Step = 'challenge';
  private result: DigestMd5Identity | null = null;
  /**
   * The client opened with a token, as GSSAPI (Kerberos) clients do; DIGEST-MD5 clients send
   * none. Java's server ignores it and challenges anyway, and so does this one: such a client
   * then fails on a challenge it cannot read.
   */
  openedWithToken = false;

  private readonly realm: string;
  private readonly digestUri: string;

  constructor(private readonly options: DigestMd5Options) {
    this.realm = options.serverName ?? ZK_SASL_REALM;
    this.digestUri = `${options.protocol ?? ZK_SASL_PROTOCOL}/${this.realm}`;
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(options.nonce)) throw new RangeError('nonce must be printable ASCII without quotes or backslashes');
  }

  get complete(): boolean {
    return this.step === 'done';
  }

  /** The identity, once complete. */
  get identity(): DigestMd5Identity | null {
    return this.result;
  }

  /** Answers one client token. Throws SaslError when the exchange fails; it cannot go on after that. */
  evaluate(token: Uint8Array): Uint8Array {
    try {
      switch (this.step) {
        case 'challenge':
          return this.challenge(token);
        case 'response':
          return this.verify(token);
        default:
          throw new SaslError(this.step === 'done' ? 'authentication already completed' : 'authentication already failed');
      }
    } catch (err) {
      this.step = 'failed';
      throw err;
    }
  }

  private challenge(token: Uint8Array): Uint8Array {
    this.openedWithToken = token.length !== 0;
    this.step = 'response';
    const text = `realm="${this.realm}",nonce="${this.options.nonce}",charset=utf-8,algorithm=md5-sess`;
    return Buffer.from(text, 'latin1');
  }

  private verify(token: Uint8Array): Uint8Array {
    if (token.length > MAX_RESPONSE_BYTES) throw new SaslError(`invalid digest response length: ${token.length}, at most ${MAX_RESPONSE_BYTES}`);
    const directives = parseDirectives(Buffer.from(token).toString('latin1'));
    const charset = directives.get('charset');
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8') throw new SaslError(`digest response format violation: unsupported charset ${charset}`);
    const utf8 = charset !== undefined;
    const field = (name: string): string | undefined => {
      const raw = directives.get(name);
      return raw === undefined ? undefined : decode(raw, utf8);
    };
    const required = (name: string): string => {
      const value = field(name);
      if (value === undefined) throw new SaslError(`digest response format violation: missing ${name}`);
      return value;
    };
    const username = required('username');
    const realm = field('realm') ?? '';
    if (realm !== this.realm) throw new SaslError(`digest response format violation: nonexistent realm '${realm}'`);
    if (required('nonce') !== this.options.nonce) throw new SaslError('digest response format violation: mismatched nonce');
    const nc = required('nc');
    if (!/^[0-9a-fA-F]{8}$/.test(nc) || parseInt(nc, 16) !== 1) throw new SaslError(`digest response format violation: nonce count ${nc}, expected 00000001`);
    const cnonce = required('cnonce');
    const qop = field('qop') ?? 'auth';
    if (qop !== 'auth') throw new SaslError(`digest response format violation: qop ${qop} was not offered (only auth)`);
    const digestUri = required('digest-uri');
    if (digestUri.toLowerCase() !== this.digestUri.toLowerCase()) throw new SaslError(`digest response format violation: mismatched URI '${digestUri}', expected ${this.digestUri}`);
    const response = required('response');
    const authzid = field('authzid') ?? null;
    const password = this.options.password(username);
    if (password === null) throw new SaslError(`cannot acquire password for ${username} in realm ${realm}`);
    const params = { username, realm, password, nonce: this.options.nonce, nc, cnonce, qop, digestUri, authzid, utf8 };
    if (response.toLowerCase() !== responseValue(params, 'AUTHENTICATE')) throw new SaslError('digest response format violation: mismatched response (wrong password?)');
    this.step = 'done';
    this.result = { authenticationId: username, authorizationId: authzid };
    return Buffer.from(`rspauth=${responseValue(params, '')}`, 'latin1');
  }
}

export interface ResponseParams {
  username: string;
  realm: string;
  password: string;
  nonce: string;
  nc: string;
  cnonce: string;
  qop: string;
  digestUri: string;
  authzid: string | null;
  /** The client sent charset=utf-8; otherwise names and password are ISO-8859-1 where they fit. */
  utf8: boolean;
}

/**
 * RFC 2831 2.1.2.1: the response value for `method` ("AUTHENTICATE" from the client, "" for the
 * server's rspauth). Exported for tests, which play the client with it.
 */
export function responseValue(p: ResponseParams, method: string): string {
  const text = (s: string): Buffer => encode(s, p.utf8);
  const secret = md5(Buffer.concat([text(p.username), colon, text(p.realm), colon, text(p.password)]));
  const a1Parts = [Buffer.from(secret), colon, text(p.nonce), colon, text(p.cnonce)];
  if (p.authzid !== null) a1Parts.push(colon, text(p.authzid));
  const ha1 = md5Hex(Buffer.concat(a1Parts));
  const ha2 = md5Hex(Buffer.from(`${method}:${p.digestUri}`, 'utf8'));
  return md5Hex(Buffer.from(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`, 'utf8'));
}

const colon = Buffer.from(':');

/** ISO-8859-1 unless told UTF-8, or a character does not fit (as Java's DIGEST-MD5 does). */
function encode(s: string, utf8: boolean): Buffer {
  if (!utf8 && /^[\x00-\xff]*$/.test(s)) return Buffer.from(s, 'latin1');
  return Buffer.from(s, 'utf8');
}

/** Directive values arrive as bytes (held here as latin1 text); charset=utf-8 makes them UTF-8. */
function decode(raw: string, utf8: boolean): string {
  return utf8 ? Buffer.from(raw, 'latin1').toString('utf8') : raw;
}

/**
 * `name=value` pairs separated by commas and optional white space; a value is a token or a
 * quoted string with backslash escapes. A directive given twice is an error (RFC 2831 2.1.2).
 */
export function parseDirectives(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /[ \t\r\n]/.test(text[i]!)) i++;
  };
  while (i < text.length) {
    skipSpace();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (i >= text.length) break;
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new SaslError(`digest response format violation: directive without a value at byte ${i}`);
    const name = text.slice(i, eq).trim().toLowerCase();
    if (name === '' || /[\s",]/.test(name)) throw new SaslError(`digest response format violation: bad directive name at byte ${i}`);
    i = eq + 1;
    skipSpace();
    let value = '';
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i++]!;
        if (c === '\\' && i < text.length) value += text[i++]!;
        else if (c === '"') {
          closed = true;
          break;
        } else value += c;
      }
      if (!closed) throw new SaslError(`digest response format violation: unterminated quoted value of ${name}`);
    } else {
      const end = text.indexOf(',', i);
      value = text.slice(i, end < 0 ? text.length : end).trim();
      i = end < 0 ? text.length : end;
    }
    if (out.has(name)) throw new SaslError(`digest response format violation: duplicate directive ${name}`);
    out.set(name, value);
    skipSpace();
    if (i < text.length && text[i] !== ',') throw new SaslError(`digest response format violation: expected ',' after ${name}`);
  }
  return out;
}
