/**
 * The quorum protocol's wire records, as Apache ZooKeeper 3.8 writes them:
 * - the election port's connection preamble (QuorumCnxManager.InitialMessage),
 * - the election Notification (FastLeaderElection.buildMsg and WorkerReceiver's decoding),
 * - QuorumPacket and LearnerInfo (zookeeper.jute), spoken on the quorum port.
 * Every decoder takes untrusted bytes and returns an error value or throws JuteError; none
 * allocates more than its input allows.
 */
import { JuteError, JuteReader, JuteWriter } from '../jute/binary.js';
import { Id } from '../jute/records.js';
import { epochOf, LONG_MAX } from './zxid.js';

// ---------------------------------------------------------------------------------------------
// Election connection preamble

/** Sent since 3.5.0 (ZOOKEEPER-107): one election address. */
export const PROTOCOL_VERSION_V1 = -65536n;
/** Sent since 3.6.0 when multi-address is enabled (ZOOKEEPER-3188): addresses joined by '|'. */
export const PROTOCOL_VERSION_V2 = -65535n;
/** Longest address string a preamble may carry (QuorumCnxManager.maxBuffer). */
export const PREAMBLE_MAX_ADDRESS_BYTES = 2048;
/** Longest election frame (QuorumCnxManager.PACKETMAXSIZE). */
export const ELECTION_MAX_FRAME_BYTES = 512 * 1024;
/** The sid an observer without an id connects with (QuorumPeer.OBSERVER_ID). */
export const OBSERVER_ID = LONG_MAX;

export interface Preamble {
  /** V1, V2, or null for the pre-3.5 form where the first long is the sid itself. */
  protocolVersion: bigint | null;
  sid: bigint;
  /** "host:port" strings as sent, wildcard addresses included; empty in the old form. */
  addresses: string[];
}

export type PreambleResult =
  | { kind: 'incomplete' }
  | { kind: 'ok'; preamble: Preamble; bytes: number }
  | { kind: 'error'; message: string };

export function encodePreamble(p: Preamble): Buffer {
  const w = new JuteWriter(64);
  if (p.protocolVersion === null) return Buffer.from(w.long(p.sid).bytes());
  const address = Buffer.from(p.addresses.join('|'), 'utf8');
  w.long(p.protocolVersion).long(p.sid).buffer(address);
  return Buffer.from(w.bytes());
}

/**
 * Parses the preamble at the start of `buf`, which may hold only part of it (a TCP stream).
 * Accepts what QuorumCnxManager.handleConnection accepts: a non-negative first long is an old
 * peer's sid; V1 and V2 carry a sid and 1..2048 bytes of addresses, each "host:port" or
 * "[v6]:port".
 */
export function decodePreamble(buf: Buffer): PreambleResult {
  if (buf.length < 8) return { kind: 'incomplete' };
  const first = buf.readBigInt64BE(0);
  if (first >= 0n) return { kind: 'ok', preamble: { protocolVersion: null, sid: first, addresses: [] }, bytes: 8 };
  if (first !== PROTOCOL_VERSION_V1 && first !== PROTOCOL_VERSION_V2) {
    return { kind: 'error', message: `unrecognized protocol version ${first}` };
  }
  if (buf.length < 20) return { kind: 'incomplete' };
  const sid = buf.readBigInt64BE(8);
  const length = buf.readInt32BE(16);
  if (length <= 0 || length > PREAMBLE_MAX_ADDRESS_BYTES) {
    return { kind: 'error', message: `unreasonable address length ${length}` };
  }
  if (buf.length < 20 + length) return { kind: 'incomplete' };
  const text = buf.toString('utf8', 20, 20 + length);
  const addresses = text.split('|');
  for (const address of addresses) {
    const problem = checkHostPort(address);
    if (problem) return { kind: 'error', message: problem };
  }
  return { kind: 'ok', preamble: { protocolVersion: first, sid, addresses }, bytes: 20 + length };
}

/** Splits "host:port" or "[v6]:port"; null when it is not of that form. */
export function splitHostPort(address: string): { host: string; port: number } | null {
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']:');
    if (close < 0) return null;
    host = address.slice(1, close);
    portText = address.slice(close + 2);
  } else {
    const parts = address.split(':');
    if (parts.length !== 2) return null;
    [host, portText] = parts as [string, string];
  }
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  return port <= 65535 ? { host, port } : null;
}

function checkHostPort(address: string): string | null {
  return splitHostPort(address) ? null : `badly formed address ${JSON.stringify(address)}`;
}

/** Formats an address as NetUtils.formatInetAddr does (brackets around IPv6 literals). */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// Election notification

/** QuorumPeer.ServerState, by ordinal: the value a notification carries. */
export const ServerState = { LOOKING: 0, FOLLOWING: 1, LEADING: 2, OBSERVING: 3 } as const;
export type ServerState = (typeof ServerState)[keyof typeof ServerState];
export const SERVER_STATE_NAMES = ['LOOKING', 'FOLLOWING', 'LEADING', 'OBSERVING'] as const;

export function isServerState(v: number): v is ServerState {
  return v === 0 || v === 1 || v === 2 || v === 3;
}

/** Notification.CURRENTVERSION: the format with a trailing config, since 3.5. */
export const NOTIFICATION_VERSION = 2;

export interface Notification {
  /** A ServerState ordinal; other values decode (the election drops them, as ZooKeeper does). */
  state: number;
  leader: bigint;
  zxid: bigint;
  electionEpoch: bigint;
  peerEpoch: bigint;
  /** 0 as read from the legacy 28- and 40-byte forms; 2 (with config) from 3.5 on. */
  version: number;
  /** The sender's QuorumVerifier as text ("server.N=…\nversion=…"); null before version 2. */
  config: Buffer | null;
}

/**
 * Encodes a notification. Version 2 (what 3.5+ sends) appends the config. The legacy forms
 * exist so tests can play old peers: `legacyBytes` 28 stops before peerEpoch (pre-3.4), 40
 * stops after the version field (3.4, whose receivers ignore that field at exactly 40 bytes).
 */
export function encodeNotification(n: Notification, legacyBytes?: 28 | 40): Buffer {
  const w = new JuteWriter(48 + (n.config?.length ?? 0));
  w.int(n.state).long(n.leader).long(n.zxid).long(n.electionEpoch);
  if (legacyBytes === 28) return Buffer.from(w.bytes());
  w.long(n.peerEpoch).int(n.version);
  if (legacyBytes === 40 || n.version <= 1) return Buffer.from(w.bytes());
  w.buffer(n.config ?? Buffer.alloc(0));
  return Buffer.from(w.bytes());
}

/**
 * Decodes a notification as FastLeaderElection's WorkerReceiver does: under 28 bytes is an
 * error; exactly 28 has no peerEpoch (taken from the zxid); at exactly 40 the version field is
 * not read (version 0); otherwise a version must follow (so 29..39 bytes are errors), and a
 * version above 1 a config of 0..length bytes. Trailing bytes are ignored, as they are there.
 */
export function decodeNotification(frame: Buffer): Notification | { error: string } {
  if (frame.length < 28) return { error: `short notification (${frame.length} bytes)` };
  try {
    const r = new JuteReader(frame, 0, frame.length, frame.length);
    const state = r.int();
    const leader = r.long();
    const zxid = r.long();
    const electionEpoch = r.long();
    if (frame.length === 28) return { state, leader, zxid, electionEpoch, peerEpoch: epochOf(zxid), version: 0, config: null };
    const peerEpoch = r.long();
    if (frame.length === 40) return { state, leader, zxid, electionEpoch, peerEpoch, version: 0, config: null };
    const version = r.int();
    let config: Buffer | null = null;
    if (version > 1) {
      const length = r.int();
      if (length < 0 || length > frame.length) return { error: `invalid config length ${length}` };
      if (r.remaining() < length) return { error: `config of ${length} bytes truncated` };
      config = Buffer.from(frame.subarray(r.offset, r.offset + length));
    }
    return { state, leader, zxid, electionEpoch, peerEpoch, version, config };
  } catch (err) {
    if (err instanceof JuteError) return { error: `malformed notification: ${err.message}` };
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// QuorumPacket

/** Leader.java's packet types, one declaration: value and name. */
export const PacketType = {
  REQUEST: 1,
  PROPOSAL: 2,
  ACK: 3,
  COMMIT: 4,
  PING: 5,
  REVALIDATE: 6,
  SYNC: 7,
  INFORM: 8,
  COMMITANDACTIVATE: 9,
  NEWLEADER: 10,
  FOLLOWERINFO: 11,
  UPTODATE: 12,
  DIFF: 13,
  TRUNC: 14,
  SNAP: 15,
  OBSERVERINFO: 16,
  LEADERINFO: 17,
  ACKEPOCH: 18,
  INFORMANDACTIVATE: 19,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

const PACKET_NAMES = new Map<number, string>(Object.entries(PacketType).map(([name, value]) => [value, name]));

/** The packet type's name, or "UNKNOWN<n>" as LearnerHandler.packetToString prints. */
export function packetTypeName(type: number): string {
  return PACKET_NAMES.get(type) ?? `UNKNOWN${type}`;
}

export interface QuorumPacket {
  type: number;
  zxid: bigint;
  /** null is written as length -1, as Java writes a null byte[]. */
  data: Buffer | null;
  /** null is written as count -1 (what every 3.8 packet but REQUEST carries). */
  authinfo: Id[] | null;
}

/**
 * Largest data field accepted: BinaryInputArchive's check, jute.maxbuffer (default 0xfffff)
 * plus zookeeper.jute.maxbuffer.extrasize (which defaults to jute.maxbuffer).
 */
export const QUORUM_PACKET_MAX_DATA_BYTES = 0xfffff * 2;

export function writeQuorumPacket(w: JuteWriter, p: QuorumPacket): JuteWriter {
  w.int(p.type).long(p.zxid).buffer(p.data);
  if (p.authinfo === null) return w.int(-1);
  return w.vector(p.authinfo, (ww, id) => Id.write(ww, id));
}

export function encodeQuorumPacket(p: QuorumPacket): Buffer {
  return Buffer.from(writeQuorumPacket(new JuteWriter(32 + (p.data?.length ?? 0)), p).bytes());
}

const TWO_32 = 2 ** 32;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A zxid as a big-endian long; the broadcast path's (safe, non-negative) ones as two 32-bit halves, cheaper than writeBigInt64BE. */
function writeZxid(out: Buffer, zxid: bigint, at: number): void {
  if (zxid < 0n || zxid > MAX_SAFE) {
    out.writeBigInt64BE(zxid, at);
    return;
  }
  const n = Number(zxid);
  out.writeUInt32BE(Math.floor(n / TWO_32), at);
  out.writeUInt32BE(n % TWO_32, at + 4);
}

/** type, zxid, data length, authinfo count: a packet's bytes besides its data and authinfo. */
const PACKET_FIXED_BYTES = 20;

/**
 * Several packets back to back in one buffer, as a stream carries them: a turn's packets for one
 * peer go out in one socket write. Packets without authinfo (all a leader sends, and a learner's
 * ACKs) are written straight into the buffer; others go through the record writer.
 */
export function encodeQuorumPackets(packets: readonly QuorumPacket[]): Buffer {
  let total = 0;
  for (const p of packets) total += p.authinfo === null ? PACKET_FIXED_BYTES + (p.data?.length ?? 0) : -Infinity;
  if (!Number.isFinite(total)) return Buffer.concat(packets.map(encodeQuorumPacket));
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of packets) {
    out.writeInt32BE(p.type, at);
    writeZxid(out, p.zxid, at + 4);
    const data = p.data;
    out.writeInt32BE(data === null ? -1 : data.length, at + 12);
    at += 16;
    if (data !== null) {
      // TypedArray#set: cheaper than Buffer#copy's native call for a txn's few dozen bytes.
      out.set(data, at);
      at += data.length;
    }
    out.writeInt32BE(-1, at);
    at += 4;
  }
  return out;
}

/**
 * The length of the QuorumPacket at `offset`, or null when `buf` does not hold all of it yet.
 * Quorum-port packets are jute records with no length prefix (Learner.writePacket), so a stream
 * reader must walk the variable fields to find the end. Throws JuteError on a negative or
 * oversized length.
 */
export function quorumPacketLength(buf: Buffer, offset = 0): number | null {
  let at = offset + 12;
  const field = (limit: number, what: string): boolean => {
    if (buf.length < at + 4) return false;
    const len = buf.readInt32BE(at);
    if (len < -1 || len > limit) throw new JuteError(`quorum packet ${what} length ${len} out of range`);
    at += 4 + Math.max(len, 0);
    return true;
  };
  if (!field(QUORUM_PACKET_MAX_DATA_BYTES, 'data')) return null;
  if (buf.length < at + 4) return null;
  const count = buf.readInt32BE(at);
  if (count < -1 || count > 1024) throw new JuteError(`quorum packet authinfo count ${count} out of range`);
  at += 4;
  for (let i = 0; i < count; i++) {
    if (!field(4096, 'auth scheme') || !field(QUORUM_PACKET_MAX_DATA_BYTES, 'auth id')) return null;
  }
  return buf.length < at ? null : at - offset;
}

export function readQuorumPacket(r: JuteReader): QuorumPacket {
  const type = r.int();
  const zxid = r.long();
  const data = r.bufferOrNull();
  const count = r.int();
  if (count < -1) throw new JuteError(`negative authinfo count ${count}`);
  if (count === -1) return { type, zxid, data, authinfo: null };
  if (count * Id.minBytes > r.remaining()) throw new JuteError(`authinfo count ${count} exceeds the bytes left`);
  const authinfo: Id[] = [];
  for (let i = 0; i < count; i++) authinfo.push(Id.read(r));
  return { type, zxid, data, authinfo };
}

/** Decodes one whole packet; the data is copied out of `bytes`. Throws JuteError. */
export function decodeQuorumPacket(bytes: Buffer): QuorumPacket {
  const r = new JuteReader(bytes, 0, bytes.length, QUORUM_PACKET_MAX_DATA_BYTES);
  const p = readQuorumPacket(r);
  if (r.remaining() !== 0) throw new JuteError(`${r.remaining()} bytes after the quorum packet`);
  return { ...p, data: p.data && Buffer.from(p.data) };
}

// ---------------------------------------------------------------------------------------------
// LearnerInfo, the data of FOLLOWERINFO / OBSERVERINFO

/** The learner protocol version 3.4+ sends, and LEADERINFO's data. */
export const LEARNER_PROTOCOL_VERSION = 0x10000;

export interface LearnerInfo {
  serverid: bigint;
  /** Absent (0) from pre-3.4 learners, which sent the sid alone. */
  protocolVersion: number;
  /** Absent (null) from pre-3.5 learners. */
  configVersion: bigint | null;
}

export function encodeLearnerInfo(li: LearnerInfo): Buffer {
  const w = new JuteWriter(20).long(li.serverid).int(li.protocolVersion);
  if (li.configVersion !== null) w.long(li.configVersion);
  return Buffer.from(w.bytes());
}

/**
 * Reads LearnerInfo as LearnerHandler does: 8 bytes give the sid, 12 add the protocol
 * version, 20 the config version; shorter data (or null, for which the leader invents an id)
 * is an error here, and the caller decides what to do.
 */
export function decodeLearnerInfo(data: Buffer | null): LearnerInfo | { error: string } {
  if (data === null || data.length < 8) return { error: `learner info of ${data?.length ?? 'null'} bytes has no sid` };
  const serverid = data.readBigInt64BE(0);
  const protocolVersion = data.length >= 12 ? data.readInt32BE(8) : 0;
  const configVersion = data.length >= 20 ? data.readBigInt64BE(12) : null;
  return { serverid, protocolVersion, configVersion };
}

/** A 4-byte int payload: LEADERINFO's protocol version, ACKEPOCH's current epoch. */
export function encodeIntPayload(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value, 0);
  return b;
}

export function decodeIntPayload(data: Buffer | null): number | { error: string } {
  if (data === null || data.length < 4) return { error: `int payload of ${data?.length ?? 'null'} bytes` };
  return data.readInt32BE(0);
}
