/**
 * One client socket: framing, the handshake, four-letter words, request decoding, reply
 * encoding and back-pressure. Decisions are the RequestPipeline's; this only moves bytes.
 */
import type { Socket } from 'node:net';
import { authenticate, ipAuthId } from '../acl/index.js';
import { newSaslNonce } from '../auth/load.js';
import { authenticationMissing, SaslConversation, type ServerAuth } from '../auth/sasl-server.js';
import { JuteError, JuteReader, JuteWriter } from '../jute/binary.js';
import { Err, KeeperState, OpCode, Xid } from '../jute/constants.js';
import { FrameDecoder, FrameTooLargeError } from '../jute/framing.js';
import * as R from '../jute/records.js';
import type { Codec } from '../jute/codec.js';
import { OpMap, type ConnectionOp } from '../jute/ops.js';
import { readRequest, responseCodec, UnknownOpError, type Request, type RequestOf } from '../jute/requests.js';
import type { Logger } from './logger.js';
import { requestKey, stamp, TRACING } from '../io/trace.js';
import { hex } from './logger.js';
import type { EncodedChildren } from '../pipeline/reads.js';
import type { ClientLink, RequestPipeline } from '../pipeline/pipeline.js';

export interface ConnectionHost {
  readonly server: RequestPipeline;
  readonly logger: Logger;
  /** Answers a four-letter word, or null if `word` is not one. */
  fourLetterWord(word: string, conn: Connection): string | null;
  connectionClosed(conn: Connection): void;
  /** Metrics: frames of `bytes` in all (length prefixes included) arrived; a reply of `bytes` (without it) went out. */
  framesReceived?(bytes: number): void;
  replySized?(bytes: number): void;
  /** Called after every reply so throttled connections can resume. */
  replySent(): void;
  throttle(conn: Connection): void;
  /** Adds to the bytes of unread replies held across all connections (negative to release). */
  adjustOutbound(deltaBytes: number): void;
  /** True while all connections together hold more unread replies than the server-wide bound. */
  outboundFull(): boolean;
  /** An id for a new connection, unique within this server. */
  nextConnectionId(): number;
  /** Watch event frames, shared by this server's connections. */
  readonly eventFrames: EventFrames;
  /** SASL and enforced authentication; without it SASL is answered as by a ZooKeeper without JAAS. */
  readonly auth?: ServerAuth;
}

export interface ConnectionLimits {
  /** Largest frame accepted (jute.maxbuffer). */
  maxFrameBytes: number;
  /** Bytes of unread replies one connection may hold before it stops being read. */
  maxOutboundBytes: number;
  /** Ms from accept to a completed handshake before the connection is closed. */
  handshakeTimeoutMs: number;
}

type Phase = 'new' | 'handshaking' | 'established' | 'closed';

/** A turn's replies go to the socket early once they reach this size (large values). */
const OUTPUT_FLUSH_BYTES = 64 * 1024;
/**
 * A turn's output buffer starts at this size (and grows if needed). Under 4 KiB, Node carves it
 * from its shared pool instead of allocating a backing store per connection per turn.
 */
const OUTPUT_INITIAL_BYTES = 2048;
/** Room for a reply's header and stat beside the body whose size is hinted. */
const FRAME_SLACK_BYTES = 256;

/**
 * While all connections together hold too many unread replies, a connection holding more than
 * this stops being read. A client that reads keeps its output near zero and is not held back.
 */
const OUTPUT_SLACK_BYTES = OUTPUT_FLUSH_BYTES;
/** A connection closed by the server gets this long to take its last replies before it is cut. */
const CLOSE_LINGER_MS = 2000;

/** Answers one of the connection's own opcodes (auth, sasl) at once. */
type OwnHandler<K extends ConnectionOp> = (conn: Connection, xid: number, req: RequestOf<K>) => void;

export class Connection implements ClientLink {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly authIds: R.Id[];
  readonly connectedAtMs = Date.now();
  sessionId = 0n;
  /** The last reply's request, for the stamp of its socket write (PADDOCK_TRACE only). */
  private traceReplyKey = '';
  timeoutMs = 0;
  packetsReceived = 0;
  packetsSent = 0;
  lastZxidSent = 0;
  private phase: Phase = 'new';
  private readonly decoder: FrameDecoder;
  /** Until the first 4 bytes have been looked at, they may be a four-letter word. */
  private fourLetterWordPossible = true;
  /**
   * Frames received and not yet handled: they wait while the handshake runs, while the server
   * is throttled, or while the client is not reading its replies. The socket is paused
   * meanwhile, so this holds at most the rest of one chunk.
   */
  private backlog: Buffer[] = [];
  private backlogAt = 0;
  /** Frames encoded this turn, not yet handed to the socket. */
  private pending: JuteWriter | null = null;
  /** Output of this turn that precedes `pending`: earlier frames and large values, in order. */
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  /** Size `pending` was made with (it grows past it only for small replies). */
  private pendingCapacity = 0;
  private readonly flushAtEndOfTurn = (): void => this.endTurn();
  /** backedUp() said yes since the last readAgain: the pipeline may hold reads for this connection. */
  private saidBackedUp = false;
  /** Set by the host while too many requests are outstanding server-wide. */
  private throttled = false;
  private socketPaused = false;
  /** Unread reply bytes this connection has counted in the host's server-wide total. */
  private accountedBytes = 0;
  private timer: NodeJS.Timeout | null;
  private readonly maxFrameBytes: number;
  private readonly maxOutboundBytes: number;
  /** Held bytes up to this never back the connection up (the smaller of its two bounds). */
  private readonly heldBytesFloor: number;
  /** This connection's SASL exchange, from its first sasl request on. */
  private sasl: SaslConversation | null = null;
  /**
   * True while enforce.auth may still refuse this connection's requests: decided once at setup
   * (no enforced scheme: false) and cleared once it holds an enforced id, so a request pays
   * nothing for the check afterwards.
   */
  private authPending: boolean;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    limits: ConnectionLimits,
  ) {
    this.id = host.nextConnectionId();
    this.remoteAddress = ipAuthId(socket.remoteAddress ?? 'unknown');
    this.remotePort = socket.remotePort ?? 0;
    this.authIds = [{ scheme: 'ip', id: this.remoteAddress }];
    this.maxFrameBytes = limits.maxFrameBytes;
    this.maxOutboundBytes = limits.maxOutboundBytes;
    this.heldBytesFloor = Math.min(limits.maxOutboundBytes, OUTPUT_SLACK_BYTES);
    this.decoder = new FrameDecoder(limits.maxFrameBytes);
    this.authPending = host.auth !== undefined && host.auth.enforced !== null;
    // Like ZooKeeper's sessionless connection timeout, but counted from accept: bytes dribbled
    // in do not extend it.
    this.timer = setTimeout(() => this.handshakeExpired(), limits.handshakeTimeoutMs);
    this.timer.unref();
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
    if (this.fourLetterWordPossible && this.tryFourLetterWord(chunk)) return;
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
    this.countFrames(frames);
    if (this.backlogAt === this.backlog.length) {
      this.backlog = frames;
      this.backlogAt = 0;
    } else {
      for (const frame of frames) this.backlog.push(frame);
    }
    this.handleBacklog();
  }

  /** ZooKeeper counts each frame with its 4-byte length prefix (ServerCnxn.packetReceived); once per read here. */
  private countFrames(frames: readonly Buffer[]): void {
    if (frames.length === 0 || this.host.framesReceived === undefined) return;
    let bytes = 0;
    for (const frame of frames) bytes += frame.length + 4;
    this.host.framesReceived(bytes);
  }

  /**
   * A four-letter word is recognised on the first 4 bytes of a fresh connection. They are looked
   * at once: later chunks are not joined to earlier ones again.
   */
  private tryFourLetterWord(chunk: Buffer): boolean {
    const held = this.decoder.bufferedBytes();
    if (held + chunk.length < 4) return false;
    this.fourLetterWordPossible = false;
    const head = held === 0 ? chunk : Buffer.concat([this.decoder.peek() as Buffer, chunk.subarray(0, 4)]);
    const word = head.subarray(0, 4).toString('latin1');
    const reply = this.host.fourLetterWord(word, this);
    if (reply === null) return false;
    this.phase = 'closed';
    this.socket.end(reply);
    return true;
  }

  /** Handles waiting frames until there are none or reading must stop; pauses the socket then. */
  private handleBacklog(): void {
    while (this.backlogAt < this.backlog.length && !this.readingStopped()) {
      const frame = this.backlog[this.backlogAt++] as Buffer;
      this.handleFrame(frame);
    }
    if (this.backlogAt > 0 && this.backlogAt === this.backlog.length) {
      this.backlog = [];
      this.backlogAt = 0;
    }
    this.updateReading();
  }

  private readingStopped(): boolean {
    return this.throttled || (this.phase !== 'established' && this.phase !== 'new') || this.backedUp();
  }

  /** The socket is read only while every received frame has been handled. */
  private updateReading(): void {
    if (this.phase === 'closed') return;
    const stop = this.backlogAt < this.backlog.length || this.readingStopped();
    if (stop && !this.socketPaused) {
      this.socketPaused = true;
      this.socket.pause();
    } else if (!stop && this.socketPaused) {
      this.socketPaused = false;
      this.socket.resume();
    }
  }

  private handleFrame(frame: Buffer): void {
    if (this.phase === 'new') return this.handleConnect(frame);
    if (this.phase === 'established') this.handleRequest(frame);
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
    // Like ZooKeeper, stop reading until the session exists: what the client pipelines meanwhile
    // waits in the kernel, and only the rest of the current chunk is held here.
    this.phase = 'handshaking';
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
    this.host.replySized?.(w.offset - at - 4);
    if (timeOut <= 0) return;
    this.phase = 'established';
    this.clearTimer();
    this.handleBacklog();
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
    if (this.authPending && this.refuseUnauthenticated(header)) return;
    let req: Request;
    try {
      req = readRequest(header.type, r);
    } catch (err) {
      return this.rejectRequest(header, err);
    }
    if (TRACING) stamp('c.in', requestKey(this.sessionId, header.xid));
    const own = Connection.ownOps.get(req.type);
    if (own !== undefined) return own(this, header.xid, req as never); // the handler was found by req.type
    this.host.server.request(this, header.xid, header.type, req);
    this.host.throttle(this);
  }

  private rejectRequest(header: R.RequestHeader, err: unknown): void {
    if (err instanceof UnknownOpError) {
      // ZooKeeper answers at once, out of line, and closes the connection (not the session).
      this.host.logger.warn(`closing connection from ${this.peer()}: request of unknown type ${header.type}`);
      this.sendReply(header.xid, this.host.server.lastZxid(), Err.UNIMPLEMENTED, header.type, null);
      this.close('unknown request type');
      return;
    }
    if (err instanceof JuteError) {
      this.host.logger.warn(`malformed ${header.type} request from ${this.peer()}: ${err.message}`);
      this.host.server.requestFailed(this, header.xid, header.type, Err.MARSHALLINGERROR);
      return;
    }
    throw err;
  }

  /** Opcodes the connection answers itself, keyed by the opcode table's connection ops. */
  private static readonly ownOps = new OpMap<OwnHandler<never>>({
    [OpCode.auth]: (conn, xid, req) => conn.handleAuth(xid, req),
    [OpCode.sasl]: (conn, xid, req) => conn.handleSasl(xid, req),
  } satisfies { [K in ConnectionOp]: OwnHandler<K> });

  /**
   * enforce.auth / sessionRequireClientSASLAuth: any request but auth and sasl, before the
   * connection holds an id of an enforced scheme, is answered SESSIONCLOSEDREQUIRESASLAUTH and
   * the connection closed (not the session), before its body is even read, as ZooKeeper does.
   */
  private refuseUnauthenticated(header: R.RequestHeader): boolean {
    const auth = this.host.auth;
    if (auth === undefined || header.type === OpCode.auth || header.type === OpCode.sasl) return false;
    if (!authenticationMissing(auth, this.authIds)) {
      // Ids are only ever added: once authenticated, always.
      this.authPending = false;
      return false;
    }
    const have = this.authIds.map((id) => id.scheme).join(', ');
    this.host.logger.warn(`session ${hex(this.sessionId)} from ${this.peer()}: authenticated with [${have}], none of [${auth.enforced?.join(', ')}]; closing the connection`);
    this.sendReply(header.xid, 0, Err.SESSIONCLOSEDREQUIRESASLAUTH, header.type, null);
    this.close('authentication required');
    return true;
  }

  /** One SASL token, answered at once; a failed exchange closes the connection after the reply. */
  private handleSasl(xid: number, req: RequestOf<typeof OpCode.sasl>): void {
    const auth = this.host.auth;
    if (auth === undefined) return this.sendReply(xid, 0, Err.OK, req.type, { token: null });
    this.sasl ??= new SaslConversation(auth, newSaslNonce);
    const outcome = this.sasl.evaluate(req.token ?? Buffer.alloc(0));
    if (outcome.log !== null) this.host.logger.warn(`session ${hex(this.sessionId)} from ${this.peer()}: ${outcome.log}`);
    if (!outcome.ok) {
      // ZooKeeper sends the (empty) SetSASLResponse body even with the error.
      this.sendRaw(xid, outcome.err, (w) => R.SetSASLResponse.write(w, { token: null }));
      this.close('SASL authentication failed');
      return;
    }
    this.addAuthIds(outcome.ids);
    for (const id of outcome.ids) this.host.logger.info(`session ${hex(this.sessionId)}: SASL authorization ${id.scheme}:${id.id} from ${this.peer()}`);
    this.sendReply(xid, 0, Err.OK, req.type, { token: outcome.token === null ? null : Buffer.from(outcome.token) });
  }

  private addAuthIds(ids: readonly R.Id[]): void {
    for (const id of ids) {
      if (!this.authIds.some((a) => a.scheme === id.scheme && a.id === id.id)) this.authIds.push(id);
    }
  }

  /** A reply whose body is written whatever its error code. */
  private sendRaw(xid: number, err: number, body: (w: JuteWriter) => void): void {
    if (this.phase === 'closed') return;
    const w = this.output();
    const at = w.beginFrame();
    R.ReplyHeader.write(w, { xid, zxid: 0, err });
    body(w);
    w.endFrame(at);
    this.replied(0, w.offset - at - 4);
  }

  /** Auth is answered at once, out of order, as ZooKeeper does; a failure closes the connection. */
  private handleAuth(xid: number, req: RequestOf<typeof OpCode.auth>): void {
    const certificateIds = this.authIds.filter((id) => id.scheme === 'x509');
    const ids = authenticate(req.scheme, req.auth, this.host.server.config.superDigest, this.remoteAddress, certificateIds);
    if (ids === null) {
      this.host.logger.warn(`authentication failed for scheme ${req.scheme} from ${this.peer()}`);
      this.sendReply(xid, 0, Err.AUTHFAILED, req.type, null);
      this.close('authentication failed');
      return;
    }
    this.addAuthIds(ids);
    this.host.logger.info(`session ${hex(this.sessionId)}: auth success for scheme ${req.scheme} from ${this.peer()}`);
    this.sendReply(xid, 0, Err.OK, req.type, null);
  }

  sendReply(xid: number, zxid: number, err: number, type: number, body: unknown): void {
    if (this.phase === 'closed') return;
    const codec = err === Err.OK && body !== null && body !== undefined ? responseCodec(type) : null;
    let sizeHint = 0;
    if (codec === R.GetDataResponse) {
      const reply = body as DataReply;
      const data = reply.data;
      if (data !== null && typeof data !== 'string' && data.length >= ZERO_COPY_BYTES) {
        return this.replied(zxid, this.sendLargeValue(xid, zxid, data, reply.stat));
      }
      sizeHint = data === null ? 0 : data.length;
    } else if (codec === R.GetChildrenResponse || codec === R.GetChildren2Response) {
      sizeHint = (body as { children: EncodedChildren }).children.bytes.length;
    }
    if (TRACING) {
      this.traceReplyKey = requestKey(this.sessionId, xid);
      stamp('c.reply', this.traceReplyKey);
    }
    const w = this.output(sizeHint);
    const at = w.beginFrame();
    R.ReplyHeader.write(w, { xid, zxid, err });
    if (codec !== null) writeBody(w, codec, body);
    w.endFrame(at);
    this.replied(zxid, w.offset - at - 4);
  }

  /** A reply of `bytes` (without its length prefix) was encoded: counters, and throttled connections may go on. */
  private replied(zxid: number, bytes: number): void {
    this.host.replySized?.(bytes);
    this.packetsSent++;
    if (zxid > this.lastZxidSent) this.lastZxidSent = zxid;
    this.host.replySent();
  }

  /**
   * A GetDataResponse whose value goes to the socket as it is stored, not copied into the
   * output buffer: the frame is split around it (stored values are never changed in place).
   */
  /** Returns the reply's size without its length prefix. */
  private sendLargeValue(xid: number, zxid: number, data: Buffer, stat: R.Stat): number {
    const w = this.output();
    const at = w.beginFrame();
    R.ReplyHeader.write(w, { xid, zxid, err: Err.OK });
    w.int(data.length);
    const valueAt = w.offset;
    R.Stat.write(w, stat);
    const statBytes = Buffer.from(w.bytes().subarray(valueAt));
    w.offset = valueAt;
    w.endFrame(at, data.length + statBytes.length);
    const head = w.bytes();
    this.chunks.push(head, data);
    this.chunkBytes += head.length + data.length;
    this.pending = this.newWriter(0);
    this.pending.raw(statBytes);
    return valueAt - at - 4 + data.length + statBytes.length;
  }

  sendEvent(type: number, path: string): void {
    if (this.phase !== 'established') return;
    this.output().raw(this.host.eventFrames.frame(type, path));
  }

  /**
   * Frames of one event-loop turn are encoded straight into one buffer and leave in one socket
   * write at the end of the turn.
   */
  private output(sizeHint = 0): JuteWriter {
    if (this.pending !== null) {
      if (this.chunkBytes + this.pending.offset + sizeHint >= OUTPUT_FLUSH_BYTES) this.flushOutput();
      else if (sizeHint > OUTPUT_INITIAL_BYTES && this.pending.offset + sizeHint + FRAME_SLACK_BYTES > this.pendingCapacity) this.seal(sizeHint);
    }
    if (this.pending === null) {
      this.pending = this.newWriter(sizeHint);
      process.nextTick(this.flushAtEndOfTurn);
    }
    return this.pending;
  }

  /** A large value gets a buffer of its size at once rather than growing one by doubling. */
  private newWriter(sizeHint: number): JuteWriter {
    this.pendingCapacity = sizeHint > OUTPUT_INITIAL_BYTES - FRAME_SLACK_BYTES ? sizeHint + FRAME_SLACK_BYTES : OUTPUT_INITIAL_BYTES;
    return new JuteWriter(this.pendingCapacity);
  }

  /**
   * Ends the turn's current buffer where it is and starts one sized for the next reply: a large
   * reply is not copied into a grown buffer (growing by doubling leaves garbage of several
   * times the output, which the allocator keeps long after the client is gone).
   */
  private seal(sizeHint: number): void {
    const w = this.pending as JuteWriter;
    if (w.offset > 0) {
      const bytes = w.bytes();
      this.chunks.push(bytes);
      this.chunkBytes += bytes.length;
    }
    this.pending = this.newWriter(sizeHint);
  }

  private flushOutput(): void {
    const w = this.pending;
    this.pending = null;
    if (TRACING) stamp('c.write', this.traceReplyKey);
    if (w === null || this.phase === 'closed' && this.socket.destroyed) {
      this.chunks = [];
      this.chunkBytes = 0;
      return;
    }
    if (this.chunks.length > 0) {
      // One writev for the turn: output before each large value, the value, and what follows.
      this.socket.cork();
      for (const chunk of this.chunks) this.socket.write(chunk);
      this.chunks = [];
      this.chunkBytes = 0;
      this.socket.write(w.bytes());
      this.socket.uncork();
    } else {
      this.socket.write(w.bytes());
    }
    // Only output the kernel did not take counts server-wide: 'drain' will report it gone.
    this.account(this.socket.writableNeedDrain ? this.socket.writableLength : 0);
    const queued = this.socket.writableLength;
    if (queued > this.maxOutboundBytes * 4) {
      // Reading stops at the bound, but watch events keep coming: a client that reads nothing
      // cannot make the server hold them without end.
      this.host.logger.warn(`closing connection from ${this.peer()}: ${queued} bytes of replies unread`);
      this.destroy();
    }
  }

  /**
   * The end of an event-loop turn: output leaves, and reading goes on if the kernel took it.
   * Only when something waits for that: reads the pipeline held (it holds them only after
   * backedUp said yes), frames not yet handled, or a paused socket.
   */
  private endTurn(): void {
    this.flushOutput();
    if (this.phase === 'closed' || !this.waitingForOutput()) return;
    if (!this.backedUp()) this.readAgain();
  }

  private waitingForOutput(): boolean {
    return this.saidBackedUp || this.socketPaused || this.backlogAt < this.backlog.length;
  }

  /**
   * Bytes of replies this connection holds that the client has not read: queued on the socket
   * and encoded this turn. A large value sent without a copy counts in full (a bound, not a
   * measure: the tree may share it).
   */
  heldBytes(): number {
    return this.socket.writableLength + this.chunkBytes + (this.pending === null ? 0 : this.pending.offset);
  }

  backedUp(): boolean {
    // Asked per request: below both bounds (nearly always) it is one sum and one comparison.
    const held = this.heldBytes();
    if (held <= this.heldBytesFloor || this.phase === 'closed') return false;
    const backedUp = held > this.maxOutboundBytes || (held > OUTPUT_SLACK_BYTES && this.host.outboundFull());
    if (backedUp) this.saidBackedUp = true;
    return backedUp;
  }

  private account(bytes: number): void {
    if (bytes === this.accountedBytes) return;
    this.host.adjustOutbound(bytes - this.accountedBytes);
    this.accountedBytes = bytes;
  }

  /** Throttled by the host: stop reading until resume(). */
  pause(): void {
    if (this.throttled || this.phase === 'closed') return;
    this.throttled = true;
    this.updateReading();
  }

  /** The host lifts the throttle from within a reply: the waiting frames go on after it. */
  resume(): void {
    if (!this.throttled || this.phase === 'closed') return;
    this.throttled = false;
    process.nextTick(() => {
      if (this.phase !== 'closed') this.handleBacklog();
    });
  }

  private onDrain(): void {
    this.account(0);
    if (this.phase === 'closed') return;
    this.readAgain();
  }

  /** Replies were taken: reads held back by the server go on, then the waiting frames. */
  private readAgain(): void {
    this.saidBackedUp = false;
    this.host.server.linkDrained(this);
    if (this.phase !== 'closed') this.handleBacklog();
  }

  close(reason: string): void {
    if (this.phase === 'closed') return;
    this.host.logger.debug(`closing connection from ${this.peer()}: ${reason}`);
    this.flushOutput();
    this.phase = 'closed';
    this.backlog = [];
    this.backlogAt = 0;
    this.socket.end();
    // Read again so the client's own close is seen; what it sends now is dropped (onData).
    this.socketPaused = false;
    this.socket.resume();
    // A client that does not read its last replies must not keep the socket (and them) alive.
    this.clearTimer();
    this.timer = setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
    this.timer.unref();
  }

  destroy(): void {
    this.phase = 'closed';
    this.backlog = [];
    this.backlogAt = 0;
    this.socket.destroy();
  }

  private handshakeExpired(): void {
    this.timer = null;
    if (this.established) return;
    this.host.logger.warn(`closing connection from ${this.peer()}: no completed handshake within the sessionless connection timeout`);
    this.destroy();
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }

  private onClose(): void {
    this.phase = 'closed';
    this.clearTimer();
    this.backlog = [];
    this.backlogAt = 0;
    this.pending = null;
    this.chunks = [];
    this.chunkBytes = 0;
    this.account(0);
    this.host.connectionClosed(this);
  }

  peer(): string {
    return `${this.remoteAddress}:${this.remotePort}`;
  }
}

/**
 * Keeps the last watch event frame encoded. One change is delivered to every watcher in a row,
 * so a fan-out to a thousand connections encodes the event once and copies it a thousand times.
 */
export class EventFrames {
  private last: { type: number; path: string; frame: Buffer } | null = null;

  frame(type: number, path: string): Buffer {
    const last = this.last;
    if (last !== null && last.type === type && last.path === path) return last.frame;
    const w = new JuteWriter(64 + path.length * 3);
    const at = w.beginFrame();
    R.ReplyHeader.write(w, { xid: Xid.notification, zxid: -1, err: 0 });
    R.WatcherEvent.write(w, { type, state: KeeperState.SyncConnected, path });
    w.endFrame(at);
    this.last = { type, path, frame: Buffer.from(w.bytes()) };
    return this.last.frame;
  }
}

/** Values from this size on are written to the socket without a copy. */
const ZERO_COPY_BYTES = 16 * 1024;

/** A getData reply's body: the value as the tree stores it (see StoredData). */
interface DataReply {
  data: string | Buffer | null;
  stat: R.Stat;
}

/** Child lists come from reads already encoded (see reads.ts); the rest goes through its record. */
export function writeBody(w: JuteWriter, codec: Codec<unknown>, body: unknown): void {
  if (codec === R.GetChildrenResponse || codec === R.GetChildren2Response) {
    // GetChildrenResponse is {children}, GetChildren2Response {children, stat}.
    const reply = body as { children: EncodedChildren; stat?: R.Stat };
    w.raw(reply.children.bytes);
    if (codec === R.GetChildren2Response) R.Stat.write(w, reply.stat!);
    return;
  }
  codec.write(w, body);
}
