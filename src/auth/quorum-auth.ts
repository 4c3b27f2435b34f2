/**
 * Quorum SASL as ZooKeeper 3.8 does it (server/quorum/auth): right after a server connects to
 * another (an election connection, or a learner to its leader), before the protocol starts, the
 * connecting side (the "learner", SaslQuorumAuthLearner) and the accepting side (the "server",
 * SaslQuorumAuthServer) exchange QuorumAuthPackets (long magic, int status, buffer token; jute,
 * no length prefix) carrying a DIGEST-MD5 conversation with protocol `zookeeper-quorum` and
 * server name `zk-quorum-sasl-md5`.
 *
 * - A learner with learnerRequireSasl=false sends nothing and goes straight to the protocol.
 * - The server looks at the first 8 bytes: the magic starts an exchange; anything else is the
 *   protocol itself, let through unless serverRequireSasl=true.
 * - A failed exchange is answered ERROR; with serverRequireSasl=false the server still lets the
 *   connection through (the learner, which saw ERROR, closes it).
 *
 * Pure: both sides are state machines fed with the bytes read and returning the bytes to write;
 * nonces come from the caller.
 */
import { DigestMd5Client } from './sasl-digest-client.js';
import { DigestMd5Server, SaslError } from './sasl-digest.js';

/**
 * QuorumAuth.QUORUM_AUTH_MAGIC_NUMBER, Java's `-0xa0dbcafecafe1234L`: the hex literal is a
 * negative long, so negated it is 0x5f2435013501edcc (its source comment calls it negative).
 * Either way its first 4 bytes are no election frame length and no quorum packet type.
 */
export const QUORUM_AUTH_MAGIC = BigInt.asIntN(64, -BigInt.asIntN(64, 0xa0dbcafecafe1234n));
export const QUORUM_SASL_PROTOCOL = 'zookeeper-quorum';
export const QUORUM_SASL_SERVER_NAME = 'zk-quorum-sasl-md5';

export const QuorumAuthStatus = { IN_PROGRESS: 0, SUCCESS: 1, ERROR: -1 } as const;

/** A token larger than this ends the exchange (DIGEST-MD5 tokens are a few hundred bytes). */
const MAX_TOKEN_BYTES = 64 * 1024;
const MAGIC_BYTES = (() => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(QUORUM_AUTH_MAGIC);
  return b;
})();

/** What a server needs for quorum SASL, read from zoo.cfg and the JAAS file at start. */
export interface QuorumSasl {
  /** quorum.auth.serverRequireSasl: connections that do not authenticate are refused. */
  serverRequired: boolean;
  /** quorum.auth.learnerRequireSasl: this server authenticates when it connects. */
  learnerRequired: boolean;
  /** DIGEST-MD5 users of the server's JAAS section (user_NAME="password"). */
  serverCredentials: ReadonlyMap<string, string>;
  /** Host names of the server.N lines: a principal `name/host@REALM` must name one of them. */
  authorizedHosts: ReadonlySet<string>;
  /** The learner's JAAS section: who this server is when it connects. */
  learner: { username: string; password: string };
}

export interface QuorumAuthPacket {
  magic: bigint;
  status: number;
  token: Buffer | null;
}

export function encodeQuorumAuthPacket(status: number, token: Uint8Array | null): Buffer {
  const length = token === null ? 0 : token.length;
  const out = Buffer.alloc(16 + length);
  out.writeBigInt64BE(QUORUM_AUTH_MAGIC, 0);
  out.writeInt32BE(status, 8);
  out.writeInt32BE(token === null ? -1 : token.length, 12);
  if (token !== null) out.set(token, 16);
  return out;
}

/** One packet from the start of `buf`, or null when more bytes are needed. Throws SaslError on a bad token length. */
export function decodeQuorumAuthPacket(buf: Buffer): { packet: QuorumAuthPacket; bytes: number } | null {
  if (buf.length < 16) return null;
  const length = buf.readInt32BE(12);
  if (length < -1 || length > MAX_TOKEN_BYTES) throw new SaslError(`quorum auth packet with a token of ${length} bytes (at most ${MAX_TOKEN_BYTES})`);
  const end = 16 + Math.max(0, length);
  if (buf.length < end) return null;
  const token = length === -1 ? null : Buffer.from(buf.subarray(16, end));
  return { packet: { magic: buf.readBigInt64BE(0), status: buf.readInt32BE(8), token }, bytes: end };
}

/**
 * The outcome of the handshake, once known. `rest` is what was read past it: the start of the
 * protocol. `authenticated` is the user who proved who they are (server side), or null when
 * the connection was let through without (or despite a failed) authentication.
 */
export type HandshakeResult =
  | { readonly ok: true; readonly rest: Buffer; readonly authenticated: string | null; readonly log: string | null }
  | { readonly ok: false; readonly reason: string };

export interface HandshakeStep {
  /** Bytes to write to the peer, in order. */
  readonly send: Buffer[];
  /** Null while the exchange goes on. */
  readonly result: HandshakeResult | null;
}

const going = (send: Buffer[] = []): HandshakeStep => ({ send, result: null });

/** The accepting side (SaslQuorumAuthServer.authenticate). */
export class QuorumAuthServer {
  private held: Buffer = Buffer.alloc(0);
  private phase: 'peek' | 'exchange' | 'done' = 'peek';
  private readonly digest: DigestMd5Server;

  constructor(private readonly sasl: QuorumSasl, nonce: string) {
    this.digest = new DigestMd5Server({
      nonce,
      password: (user) => sasl.serverCredentials.get(user) ?? null,
      protocol: QUORUM_SASL_PROTOCOL,
      serverName: QUORUM_SASL_SERVER_NAME,
    });
  }

  push(chunk: Buffer): HandshakeStep {
    if (this.phase === 'done') return going();
    this.held = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    if (this.phase === 'peek') {
      const seen = Math.min(this.held.length, 8);
      if (!this.held.subarray(0, seen).equals(MAGIC_BYTES.subarray(0, seen))) return this.notAuthenticating();
      if (seen < 8) return going();
      this.phase = 'exchange';
    }
    const send: Buffer[] = [];
    for (;;) {
      let decoded;
      try {
        decoded = decodeQuorumAuthPacket(this.held);
      } catch (err) {
        return this.failed(send, (err as Error).message);
      }
      if (decoded === null) return going(send);
      this.held = this.held.subarray(decoded.bytes);
      const step = this.evaluate(decoded.packet.token ?? Buffer.alloc(0), send);
      if (step !== null) return step;
    }
  }

  /**
   * The peer closed its side. Before any byte this is no failure worth a warning: an election
   * peer that lost the challenge and does not authenticate hangs up right after its preamble.
   */
  end(): HandshakeStep {
    if (this.phase === 'done') return going();
    if (this.phase === 'peek' && this.held.length === 0) return this.notAuthenticating();
    return this.failed([], 'the peer closed the connection during authentication');
  }

  private notAuthenticating(): HandshakeStep {
    this.phase = 'done';
    if (this.sasl.serverRequired) return { send: [], result: { ok: false, reason: 'the peer is not trying to authenticate and quorum.auth.serverRequireSasl=true' } };
    return { send: [], result: { ok: true, rest: this.held, authenticated: null, log: null } };
  }

  /** One learner token; a step when the exchange ends, null while it goes on. */
  private evaluate(token: Buffer, send: Buffer[]): HandshakeStep | null {
    let reply: Uint8Array;
    try {
      reply = this.digest.evaluate(token);
      if (this.digest.complete) this.authorize();
    } catch (err) {
      if (!(err instanceof SaslError)) throw err;
      send.push(encodeQuorumAuthPacket(QuorumAuthStatus.ERROR, Buffer.alloc(0)));
      return this.failed(send, err.message);
    }
    if (!this.digest.complete) {
      send.push(encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, reply));
      return null;
    }
    send.push(encodeQuorumAuthPacket(QuorumAuthStatus.SUCCESS, reply));
    this.phase = 'done';
    return { send, result: { ok: true, rest: this.held, authenticated: this.digest.identity!.authenticationId, log: null } };
  }

  /** SaslQuorumServerCallbackHandler's rule: authzid is the user itself, and `name/host@REALM` names a member's host. */
  private authorize(): void {
    const who = this.digest.identity!;
    const authzid = who.authorizationId ?? who.authenticationId;
    if (authzid !== who.authenticationId) throw new SaslError(`${who.authenticationId} may not act as ${authzid}`);
    const parts = authzid.split(/[/@]/);
    if (parts.length === 3 && !this.sasl.authorizedHosts.has(parts[1]!)) throw new SaslError(`${authzid}: host ${parts[1]} is not a member of the ensemble`);
  }

  private failed(send: Buffer[], why: string): HandshakeStep {
    this.phase = 'done';
    // DIGEST-MD5 has no initial response; a peer that sent one speaks GSSAPI, which fails on our challenge.
    const reason = this.digest.openedWithToken ? `${why} (the peer opened with a token: GSSAPI/Kerberos? only DIGEST-MD5 is offered)` : why;
    if (this.sasl.serverRequired) return { send, result: { ok: false, reason: `quorum SASL authentication failed: ${reason}` } };
    const log = `quorum SASL authentication failed (${reason}); keeping the connection, as quorum.auth.serverRequireSasl=false`;
    return { send, result: { ok: true, rest: this.held, authenticated: null, log } };
  }
}

/** The connecting side (SaslQuorumAuthLearner.authenticate). */
export class QuorumAuthLearner {
  private held: Buffer = Buffer.alloc(0);
  private done = false;
  private readonly digest: DigestMd5Client;

  constructor(private readonly sasl: QuorumSasl, cnonce: string) {
    this.digest = new DigestMd5Client({
      ...sasl.learner,
      cnonce,
      protocol: QUORUM_SASL_PROTOCOL,
      serverName: QUORUM_SASL_SERVER_NAME,
    });
  }

  /** The first step, right after connecting: DIGEST-MD5 has no initial response, so an empty token. */
  start(): HandshakeStep {
    if (!this.sasl.learnerRequired) {
      this.done = true;
      return { send: [], result: { ok: true, rest: Buffer.alloc(0), authenticated: null, log: null } };
    }
    return going([encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, Buffer.alloc(0))]);
  }

  push(chunk: Buffer): HandshakeStep {
    if (this.done) return going();
    this.held = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    const send: Buffer[] = [];
    try {
      for (;;) {
        const decoded = decodeQuorumAuthPacket(this.held);
        if (decoded === null) return going(send);
        this.held = this.held.subarray(decoded.bytes);
        const step = this.receive(decoded.packet, send);
        if (step !== null) return step;
      }
    } catch (err) {
      if (!(err instanceof SaslError)) throw err;
      return this.fail(err.message);
    }
  }

  end(): HandshakeStep {
    if (this.done) return going();
    return this.fail('the server closed the connection during authentication');
  }

  private receive(packet: QuorumAuthPacket, send: Buffer[]): HandshakeStep | null {
    if (packet.token === null && packet.status !== QuorumAuthStatus.ERROR) throw new SaslError('the server sent a null token');
    if (packet.status === QuorumAuthStatus.SUCCESS) {
      if (this.digest.evaluate(packet.token!) !== null || !this.digest.complete) throw new SaslError('protocol error: the server reported SUCCESS before the exchange was complete');
      this.done = true;
      return { send, result: { ok: true, rest: this.held, authenticated: null, log: null } };
    }
    if (packet.status !== QuorumAuthStatus.IN_PROGRESS) throw new SaslError('the server refused our credentials (status ERROR)');
    const response = this.digest.evaluate(packet.token!);
    if (response === null) throw new SaslError('protocol error: the server did not report SUCCESS at the end of the exchange');
    send.push(encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, response));
    return null;
  }

  private fail(reason: string): HandshakeStep {
    this.done = true;
    return { send: [], result: { ok: false, reason: `quorum SASL authentication failed: ${reason}` } };
  }
}
