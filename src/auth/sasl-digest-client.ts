/**
 * The client side of SASL DIGEST-MD5 (RFC 2831), as Java's DIGEST-MD5 client answers a
 * ZooKeeper server: a quorum learner logging in with the `username` and `password` of its JAAS
 * section. ZooKeeper creates that client with the user name as authorization id too, so the
 * response carries `authzid` equal to `username`.
 *
 * Two steps: the server's digest-challenge is answered with a digest-response; the server's
 * `rspauth` is then checked, which proves the server knew the password as well (mutual
 * authentication). Pure: the cnonce comes from the caller.
 */
import { parseDirectives, responseValue, SaslError, type ResponseParams } from './sasl-digest.js';

export interface DigestMd5ClientOptions {
  username: string;
  password: string;
  /** A fresh, unpredictable client nonce, printable ASCII without quotes or backslashes. */
  cnonce: string;
  /** SASL protocol and server name; the digest-uri is `protocol/serverName`. */
  protocol: string;
  serverName: string;
}

/** RFC 2831 2.1.1: a digest-challenge is at most 2048 bytes. */
const MAX_CHALLENGE_BYTES = 2048;

type Step = 'challenge' | 'rspauth' | 'done' | 'failed';

export class DigestMd5Client {
  private step: Step = 'challenge';
  private params: ResponseParams | null = null;

  constructor(private readonly options: DigestMd5ClientOptions) {
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(options.cnonce)) throw new RangeError('cnonce must be printable ASCII without quotes or backslashes');
  }

  get complete(): boolean {
    return this.step === 'done';
  }

  /**
   * Answers one server token: the challenge gets the response, rspauth gets null (the exchange
   * is then complete). Throws SaslError when the server's token is wrong; the exchange ends.
   */
  evaluate(token: Uint8Array): Uint8Array | null {
    try {
      switch (this.step) {
        case 'challenge':
          return this.respond(token);
        case 'rspauth':
          this.checkRspauth(token);
          return null;
        default:
          throw new SaslError(this.step === 'done' ? 'authentication already completed' : 'authentication already failed');
      }
    } catch (err) {
      this.step = 'failed';
      throw err;
    }
  }

  private respond(token: Uint8Array): Uint8Array {
    if (token.length === 0) throw new SaslError('the server sent an empty challenge');
    if (token.length > MAX_CHALLENGE_BYTES) throw new SaslError(`invalid digest challenge length: ${token.length}, at most ${MAX_CHALLENGE_BYTES}`);
    const directives = parseDirectives(Buffer.from(token).toString('latin1'));
    const nonce = directives.get('nonce');
    if (nonce === undefined) throw new SaslError('digest challenge format violation: missing nonce');
    const algorithm = directives.get('algorithm');
    if (algorithm?.toLowerCase() !== 'md5-sess') throw new SaslError(`digest challenge format violation: algorithm ${algorithm ?? '(none)'}, expected md5-sess`);
    const qops = (directives.get('qop') ?? 'auth').split(',').map((q) => q.trim().toLowerCase());
    if (!qops.includes('auth')) throw new SaslError(`the server offers no quality of protection this client has (${qops.join(', ')}); only auth`);
    const charset = directives.get('charset');
    const utf8 = charset?.toLowerCase() === 'utf-8';
    const o = this.options;
    const params: ResponseParams = {
      username: o.username,
      realm: directives.get('realm') ?? o.serverName,
      password: o.password,
      nonce,
      nc: '00000001',
      cnonce: o.cnonce,
      qop: 'auth',
      digestUri: `${o.protocol}/${o.serverName}`,
      authzid: o.username,
      utf8,
    };
    this.params = params;
    this.step = 'rspauth';
    const fields = [
      ...(utf8 ? ['charset=utf-8'] : []),
      `username=${quote(params.username)}`,
      `realm=${quote(params.realm)}`,
      `nonce=${quote(nonce)}`,
      `nc=${params.nc}`,
      `cnonce=${quote(params.cnonce)}`,
      `digest-uri=${quote(params.digestUri)}`,
      'maxbuf=65536',
      `response=${responseValue(params, 'AUTHENTICATE')}`,
      'qop=auth',
      `authzid=${quote(o.username)}`,
    ];
    return Buffer.from(fields.join(','), utf8 ? 'utf8' : 'latin1');
  }

  private checkRspauth(token: Uint8Array): void {
    const directives = parseDirectives(Buffer.from(token).toString('latin1'));
    const rspauth = directives.get('rspauth');
    if (rspauth === undefined) throw new SaslError('the server\'s final message has no rspauth');
    if (rspauth.toLowerCase() !== responseValue(this.params!, '')) throw new SaslError('the server\'s rspauth does not match: it does not know our password');
    this.step = 'done';
  }
}

/** A quoted-string: `"` and `\` escaped with a backslash. */
function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
