/**
 * One client socket: framing, the handshake, four-letter words, request decoding, reply
 * encoding and back-pressure. Decisions are the ZkServer's; this only moves bytes.
 */
import type { Socket } from 'node:net';
import { authenticate, ipAuthId } from '../acl/index.js';
import { JuteError, JuteReader, JuteWriter } from '../jute/binary.js';
import { Err, KeeperState, OpCode, Xid } from '../jute/constants.js';
import { FrameDecoder, FrameTooLargeError } from '../jute/framing.js';
import * as R from '../jute/records.js';
import { readRequest, responseCodec, UnknownOpError, writeMultiResponse, type MultiResult, type Request } from '../jute/requests.js';
import type { Logger } from './logger.js';
import { hex } from './logger.js';
import type { EncodedChildren } from './reads.js';
import type { ClientLink, ZkServer } from './zkserver.js';

export interface ConnectionHost {
  readonly server: ZkServer;
  readonly logger: Logger;
  /** Answers a four-letter word, or null if `word` is not one. */
  fourLetterWord(word: string, conn: Connection): string | null;
  connectionClosed(conn: Connection): void;
  /** Called after every reply so throttled connections can resume. */
  replySent(): void;
  throttle(conn: Connection): void;
}

type Phase = 'new' | 'handshaking' | 'established' | 'closed';

/** A turn's replies go to the socket early once they reach this size (large values). */
const OUTPUT_FLUSH_BYTES = 64 * 1024;
/**
 * A turn's output buffer starts at this size (and grows if needed). Under 4 KiB, Node carves it
 * from its shared pool instead of allocating a backing store per connection per turn.
 */
const OUTPUT_INITIAL_BYTES = 2048;

/** Frames held while the session is being created; more than this is a hostile client. */
const MAX_EARLY_FRAMES = 1000;
let nextConnectionId = 1;

export class Connection implements ClientLink {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly authIds: R.Id[];
  readonly connectedAtMs = Date.now();
  sessionId = 0n;
  timeoutMs = 0;
  packetsReceived = 0;
  packetsSent = 0;
  lastZxidSent = 0;
  private phase: Phase = 'new';
  private readonly decoder: FrameDecoder;
  private readonly early: Buffer[] = [];
  /** Frames encoded this turn, not yet handed to the socket. */
  private pending: JuteWriter | null = null;
  /** Output of this turn that precedes `pending`: earlier frames and large values, in order. */
  private chunks: Buffer[] = [];
  private readonly flushAtEndOfTurn = (): void => this.flushOutput();
  private paused = false;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    private readonly maxFrameBytes: number,
    private readonly maxOutboundBytes: number,
  ) {
    this.remoteAddress = ipAuthId(socket.remoteAddress ?? 'unknown');
    this.remotePort = socket.remotePort ?? 0;
    this.authIds = [{ scheme: 'ip', id: this.remoteAddress }];
    this.decoder = new FrameDecoder(maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
  }

  isClosed(): boolean {
    return this.phase === 'closed';
  }

  get established(): boolean {
    return this.phase === 'established';
  }

  private onData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'new' && this.tryFourLetterWord(chunk)) return;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      if (err instanceof FrameTooLargeError) {
        this.host.logger.warn(`closing connection from ${this.peer()}: ${err.message}`);
        return this.destroy();
      }
      throw err;
    }
    for (const frame of frames) {
      if (this.isClosed()) return;
      this.handleFrame(frame);
    }
  }

  /** A four-letter word is recognised on the first 4 bytes of a fresh connection. */
  private tryFourLetterWord(chunk: Buffer): boolean {
    const head = Buffer.concat([this.decoder.peek() ?? Buffer.alloc(0), chunk]);
    if (head.length < 4) return false;
    const word = head.subarray(0, 4).toString('latin1');
    const reply = this.host.fourLetterWord(word, this);
    if (reply === null) return false;
    this.phase = 'closed';
    this.socket.end(reply);
    return true;
  }

  private handleFrame(frame: Buffer): void {
    switch (this.phase) {
      case 'new':
        return this.handleConnect(frame);
      case 'handshaking':
        if (this.early.length >= MAX_EARLY_FRAMES) return this.destroy();
        this.early.push(Buffer.from(frame));
        return;
      case 'established':
        return this.handleRequest(frame);
      case 'closed':
        return;
    }
  }

  private handleConnect(frame: Buffer): void {
    let req: R.ConnectRequest;
    try {
      const r = new JuteReader(frame, 0, frame.length, this.maxFrameBytes);
      const base = R.ConnectRequestBase.read(r);
      // 3.3-era clients stop before the readOnly byte.
      req = { ...base, readOnly: r.remaining() > 0 ? r.bool() : undefined };
    } catch (err) {
      this.host.logger.warn(`closing connection from ${this.peer()}: malformed connect request (${(err as Error).message})`);
      return this.destroy();
    }
    this.phase = 'handshaking';
    // Like ZooKeeper, stop reading until the session exists: what the client pipelines meanwhile
    // waits in the kernel, and only the rest of the current chunk is held here.
    this.socket.pause();
    this.host.server.connect(this, req);
  }

  sendConnectResponse(timeOut: number, sessionId: bigint, passwd: Buffer): void {
    if (this.phase === 'closed') return;
    this.timeoutMs = timeOut;
    const w = this.output();
    const at = w.beginFrame();
    R.ConnectResponseBase.write(w, { protocolVersion: 0, timeOut, sessionId, passwd });
    w.bool(false);
    w.endFrame(at);
    if (timeOut <= 0) return;
    this.phase = 'established';
    const early = this.early.splice(0);
    for (const frame of early) {
      if (!this.established) return;
      this.handleRequest(frame);
    }
    if (!this.paused) this.socket.resume();
  }

  private handleRequest(frame: Buffer): void {
    this.packetsReceived++;
    const r = new JuteReader(frame, 0, frame.length, this.maxFrameBytes);
    let header: R.RequestHeader;
    try {
      header = R.RequestHeader.read(r);
    } catch {
      this.host.logger.warn(`closing connection from ${this.peer()}: request shorter than its header`);
      return this.destroy();
    }
    let req: Request;
    try {
      req = readRequest(header.type, r);
    } catch (err) {
      return this.rejectRequest(header, err);
    }
    if (req.type === OpCode.auth) return this.handleAuth(header.xid, req);
    if (req.type === OpCode.sasl) return this.sendReply(header.xid, 0, Err.OK, OpCode.sasl, { token: null });
    this.host.server.request(this, header.xid, header.type, req);
    this.host.throttle(this);
  }

  private rejectRequest(header: R.RequestHeader, err: unknown): void {
    if (err instanceof UnknownOpError) {
      this.host.server.requestFailed(this, header.xid, header.type, Err.UNIMPLEMENTED);
      return;
    }
    if (err instanceof JuteError) {
      this.host.logger.warn(`malformed ${header.type} request from ${this.peer()}: ${err.message}`);
      this.host.server.requestFailed(this, header.xid, header.type, Err.MARSHALLINGERROR);
      return;
    }
    throw err;
  }

  /** Auth is answered at once, out of order, as ZooKeeper does; a failure closes the connection. */
  private handleAuth(xid: number, req: Extract<Request, { type: typeof OpCode.auth }>): void {
    const ids = authenticate(req.scheme, req.auth, this.host.server.config.superDigest, this.remoteAddress);
    if (ids === null) {
      this.host.logger.warn(`authentication failed for scheme ${req.scheme} from ${this.peer()}`);
      this.sendReply(xid, 0, Err.AUTHFAILED, OpCode.auth, null);
      this.close('authentication failed');
      return;
    }
    for (const id of ids) {
      if (!this.authIds.some((a) => a.scheme === id.scheme && a.id === id.id)) this.authIds.push(id);
    }
    this.host.logger.info(`session ${hex(this.sessionId)}: auth success for scheme ${req.scheme} from ${this.peer()}`);
    this.sendReply(xid, 0, Err.OK, OpCode.auth, null);
  }

  sendReply(xid: number, zxid: number, err: number, type: number, body: unknown): void {
    if (this.phase === 'closed') return;
    const large = err === Err.OK && type === OpCode.getData ? largeValue(body) : null;
    if (large !== null) {
      this.sendLargeValue(xid, zxid, large, (body as { stat: R.Stat }).stat);
    } else {
      const w = this.output(err === Err.OK ? bodySizeHint(type, body) : 0);
      const at = w.beginFrame();
      R.ReplyHeader.write(w, { xid, zxid, err });
      if (err === Err.OK && body !== null && body !== undefined) writeBody(w, type, body);
      w.endFrame(at);
    }
    this.packetsSent++;
    if (zxid > this.lastZxidSent) this.lastZxidSent = zxid;
    this.host.replySent();
  }

  /**
   * A GetDataResponse whose value goes to the socket as it is stored, not copied into the
   * output buffer: the frame is split around it (stored values are never changed in place).
   */
  private sendLargeValue(xid: number, zxid: number, data: Buffer, stat: R.Stat): void {
    const w = this.output();
    const at = w.beginFrame();
    R.ReplyHeader.write(w, { xid, zxid, err: Err.OK });
    w.int(data.length);
    const valueAt = w.offset;
    R.Stat.write(w, stat);
    const statBytes = Buffer.from(w.bytes().subarray(valueAt));
    w.offset = valueAt;
    w.endFrame(at, data.length + statBytes.length);
    this.chunks.push(w.bytes(), data);
    this.pending = new JuteWriter(OUTPUT_INITIAL_BYTES);
    this.pending.raw(statBytes);
  }

  sendEvent(type: number, path: string): void {
    if (this.phase !== 'established') return;
    this.output().raw(eventFrame(type, path));
  }

  /**
   * Frames of one event-loop turn are encoded straight into one buffer and leave in one socket
   * write at the end of the turn.
   */
  private output(sizeHint = 0): JuteWriter {
    if (this.pending !== null && this.pending.offset + sizeHint >= OUTPUT_FLUSH_BYTES) this.flushOutput();
    if (this.pending === null) {
      // A large value gets a buffer of its size at once rather than growing one by doubling.
      this.pending = new JuteWriter(sizeHint > OUTPUT_INITIAL_BYTES - 256 ? sizeHint + 256 : OUTPUT_INITIAL_BYTES);
      process.nextTick(this.flushAtEndOfTurn);
    }
    return this.pending;
  }

  private flushOutput(): void {
    const w = this.pending;
    this.pending = null;
    if (w === null || this.phase === 'closed' && this.socket.destroyed) {
      this.chunks = [];
      return;
    }
    if (this.chunks.length > 0) {
      // One writev for the turn: output before each large value, the value, and what follows.
      this.socket.cork();
      for (const chunk of this.chunks) this.socket.write(chunk);
      this.chunks = [];
      this.socket.write(w.bytes());
      this.socket.uncork();
    } else {
      this.socket.write(w.bytes());
    }
    const queued = this.socket.writableLength;
    if (queued > this.maxOutboundBytes * 4) {
      this.host.logger.warn(`closing connection from ${this.peer()}: ${queued} bytes of replies unread`);
      this.destroy();
    } else if (queued > this.maxOutboundBytes) {
      this.pause();
    }
  }

  pause(): void {
    if (this.paused || this.phase === 'closed') return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused || this.phase === 'closed') return;
    if (this.socket.writableLength > this.maxOutboundBytes) return;
    this.paused = false;
    this.socket.resume();
  }

  private onDrain(): void {
    this.resume();
  }

  close(reason: string): void {
    if (this.phase === 'closed') return;
    this.host.logger.debug(`closing connection from ${this.peer()}: ${reason}`);
    this.flushOutput();
    this.phase = 'closed';
    this.socket.end();
  }

  destroy(): void {
    this.phase = 'closed';
    this.socket.destroy();
  }

  private onClose(): void {
    this.phase = 'closed';
    this.host.connectionClosed(this);
  }

  peer(): string {
    return `${this.remoteAddress}:${this.remotePort}`;
  }
}

/**
 * The last watch event frame encoded. One change is delivered to every watcher in a row, so a
 * fan-out to a thousand connections encodes the event once and copies it a thousand times.
 */
let lastEvent: { type: number; path: string; frame: Buffer } | null = null;

function eventFrame(type: number, path: string): Buffer {
  if (lastEvent !== null && lastEvent.type === type && lastEvent.path === path) return lastEvent.frame;
  const w = new JuteWriter(64 + path.length * 3);
  const at = w.beginFrame();
  R.ReplyHeader.write(w, { xid: Xid.notification, zxid: -1, err: 0 });
  R.WatcherEvent.write(w, { type, state: KeeperState.SyncConnected, path });
  w.endFrame(at);
  lastEvent = { type, path, frame: Buffer.from(w.bytes()) };
  return lastEvent.frame;
}

/** Values from this size on are written to the socket without a copy. */
const ZERO_COPY_BYTES = 16 * 1024;

/** The value of a getData reply when it is a stored Buffer worth sending without a copy. */
function largeValue(body: unknown): Buffer | null {
  const data = (body as { data: string | Buffer | null }).data;
  return data !== null && typeof data !== 'string' && data.length >= ZERO_COPY_BYTES ? data : null;
}

/** Bytes a reply body will take, when it is large enough to matter (values, child lists). */
function bodySizeHint(type: number, body: unknown): number {
  if (body === null || typeof body !== 'object') return 0;
  if (type === OpCode.getChildren || type === OpCode.getChildren2) return (body as { children: EncodedChildren }).children.bytes.length;
  if (type !== OpCode.getData) return 0;
  const data = (body as { data: string | Buffer | null }).data;
  return data === null ? 0 : data.length;
}

function writeBody(w: JuteWriter, type: number, body: unknown): void {
  if (type === OpCode.multi || type === OpCode.multiRead) {
    writeMultiResponse(w, body as MultiResult[]);
    return;
  }
  if (type === OpCode.getChildren || type === OpCode.getChildren2) {
    // GetChildrenResponse is {children}, GetChildren2Response {children, stat}.
    const reply = body as { children: EncodedChildren; stat?: R.Stat };
    w.raw(reply.children.bytes);
    if (type === OpCode.getChildren2) R.Stat.write(w, reply.stat!);
    return;
  }
  responseCodec(type)?.write(w, body);
}
