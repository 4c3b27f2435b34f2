/**
 * A minimal, exact wire-level ZooKeeper client for tests, built directly on src/jute.
 *
 * It does no reconnects, no chroot, no watch bookkeeping: it sends what it is told, with xids in
 * order, matches replies FIFO (special xids -2/-4/-8 on their own queues), and records everything
 * the server sends (replies and notifications) in one ordered transcript, so a test can check
 * that an event arrived before the reply of a later request.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import {
  ConnectResponseBase,
  FrameDecoder,
  JuteReader,
  JuteWriter,
  OpCode,
  ReplyHeader,
  RequestHeader,
  WatcherEvent,
  Xid,
  responseCodec,
  writeRequest,
  type ConnectResponse,
  type MultiResult,
  type Request,
} from '../../src/jute/index.js';
import { Waiters } from './waiters.js';

export interface ConnectOptions {
  /** Requested session timeout (ms); also the default handshake and reply timeout. */
  timeoutMs?: number;
  sessionId?: bigint;
  passwd?: Buffer;
  lastZxidSeen?: number;
  readOnly?: boolean;
  /** Largest reply frame accepted. */
  maxFrameBytes?: number;
  /** How long to wait for the ConnectResponse (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Connect over TLS with these options (certificates, CA, servername). */
  tls?: ConnectionOptions;
  /** Called once the kernel took the ConnectRequest (a stopped server's backlog holds it). */
  onHelloSent?: () => void;
}

export interface Reply {
  header: ReplyHeader;
  /** The decoded body when err == 0 (MultiResult[] for multi/multiRead), else null. */
  body: unknown;
}

export type TranscriptEntry =
  | { kind: 'reply'; xid: number; type: number; header: ReplyHeader; body: unknown }
  | { kind: 'event'; zxid: number; event: WatcherEvent }
  | { kind: 'closed' };

interface Pending {
  xid: number;
  type: number;
  resolve(r: Reply): void;
  reject(e: Error): void;
}

export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
}

export class RawClient {
  /** Every server message after the handshake, in arrival order. */
  readonly transcript: TranscriptEntry[] = [];
  /** Notifications (xid -1), in arrival order. */
  readonly events: { zxid: number; event: WatcherEvent }[] = [];
  /** Set once the socket has closed (by either side). */
  closedReason: Error | null = null;
  /** Resolves when the socket closes, for whatever reason. */
  readonly closed: Promise<void>;

  private nextXid = 1;
  private readonly pending: Pending[] = [];
  private readonly special = new Map<number, Pending[]>();
  private readonly decoder: FrameDecoder;
  private readonly waiters = new Waiters();
  private resolveClosed!: () => void;

  private constructor(
    /** The socket itself, for fuzzing and for faults. */
    readonly socket: Socket,
    readonly session: ConnectResponse,
    maxFrameBytes: number,
    leftover: Buffer[],
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    this.closed = new Promise((r) => (this.resolveClosed = r));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.onClose(e));
    socket.on('close', () => this.onClose(new ConnectionClosedError('connection closed')));
    for (const chunk of leftover) this.onData(chunk);
  }

  get sessionId(): bigint {
    return this.session.sessionId;
  }

  /** Handshake: a bare ConnectRequest (with the readOnly byte), then a bare ConnectResponse. */
  static connect(host: string, port: number, options: ConnectOptions = {}): Promise<RawClient> {
    const maxFrameBytes = options.maxFrameBytes ?? 0xfffff + 1024;
    const hello = connectRequestFrame(options);
    return new Promise((resolve, reject) => {
      const sock = options.tls === undefined ? netConnect({ host, port }) : tlsConnect({ host, port, ...options.tls });
      sock.setNoDelay(true);
      const decoder = new FrameDecoder(maxFrameBytes);
      let settled = false;
      const timer = setTimeout(() => fail(new Error('handshake timed out')), options.handshakeTimeoutMs ?? 10_000);
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      const onData = (chunk: Buffer): void => {
        let frames: Buffer[];
        try {
          frames = decoder.push(chunk);
        } catch (e) {
          return fail(e as Error);
        }
        if (frames.length === 0 || settled) return;
        settled = true;
        clearTimeout(timer);
        sock.off('data', onData);
        sock.off('error', fail);
        sock.off('close', onEarlyClose);
        const frame = frames[0]!;
        const r = new JuteReader(frame);
        let resp: ConnectResponse;
        try {
          const base = ConnectResponseBase.read(r);
          resp = { ...base, readOnly: r.remaining() > 0 ? r.bool() : undefined };
        } catch (e) {
          sock.destroy();
          return reject(e as Error);
        }
        if (resp.timeOut <= 0) {
          sock.destroy();
          return reject(Object.assign(new Error('session expired (ConnectResponse timeOut <= 0)'), { expired: true }));
        }
        // Frames after the ConnectResponse in the same chunk, re-encoded for the client's decoder.
        const rest = frames.slice(1).map((f) => {
          const b = Buffer.alloc(4 + f.length);
          b.writeInt32BE(f.length, 0);
          f.copy(b, 4);
          return b;
        });
        const tail = decoder.peek();
        if (tail) rest.push(Buffer.from(tail));
        resolve(new RawClient(sock, resp, maxFrameBytes, rest));
      };
      const onEarlyClose = (): void => fail(new ConnectionClosedError('closed during handshake'));
      sock.on('data', onData);
      sock.on('error', fail);
      sock.on('close', onEarlyClose);
      sock.write(hello, () => options.onHelloSent?.());
    });
  }

  /** Sends a request; auth uses xid -4, setWatches(2) xid -8, ping xid -2, others the next xid. */
  send(req: Request): Promise<Reply> {
    if (this.closedReason) return Promise.reject(this.closedReason);
    const xid =
      req.type === OpCode.auth
        ? Xid.auth
        : req.type === OpCode.setWatches || req.type === OpCode.setWatches2
          ? Xid.setWatches
          : req.type === OpCode.ping
            ? Xid.ping
            : this.nextXid++;
    return new Promise<Reply>((resolve, reject) => {
      const p: Pending = { xid, type: req.type, resolve, reject };
      if (xid < 0) {
        const q = this.special.get(xid) ?? [];
        q.push(p);
        this.special.set(xid, q);
      } else {
        this.pending.push(p);
      }
      this.socket.write(RawClient.encode(xid, req));
    });
  }

  /** A request frame as bytes: length, RequestHeader, body. */
  static encode(xid: number, req: Request): Buffer {
    const w = new JuteWriter();
    const at = w.beginFrame();
    RequestHeader.write(w, { xid, type: req.type });
    writeRequest(w, req);
    w.endFrame(at);
    return Buffer.from(w.bytes());
  }

  ping(): Promise<Reply> {
    return this.send({ type: OpCode.ping });
  }

  /** Number of requests sent whose reply has not arrived. */
  outstanding(): number {
    let n = this.pending.length;
    for (const q of this.special.values()) n += q.length;
    return n;
  }

  /** closeSession, wait for its reply (or the socket closing), then end the socket. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (!this.closedReason) {
      const reply = this.send({ type: OpCode.closeSession }).catch(() => undefined);
      await withTimeout(reply, timeoutMs, 'closeSession reply');
      this.socket.end();
    }
    await withTimeout(this.closed, timeoutMs, 'socket close');
  }

  /** Drops the connection without closing the session. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Waits until some transcript entry satisfies `pred` (checks entries already received too). */
  waitFor(pred: (e: TranscriptEntry) => boolean, timeoutMs = 10_000, what = 'transcript entry'): Promise<TranscriptEntry> {
    return waitForEntry(this.transcript, this.waiters, pred, timeoutMs, what);
  }

  waitForEvent(pred: (e: WatcherEvent) => boolean = () => true, timeoutMs = 10_000): Promise<WatcherEvent> {
    return this.waitFor((e) => e.kind === 'event' && pred(e.event), timeoutMs, 'watch event').then(
      (e) => (e as { event: WatcherEvent }).event,
    );
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.socket.destroy();
      this.onClose(e as Error);
      return;
    }
    for (const frame of frames) {
      try {
        this.onFrame(frame);
      } catch (e) {
        this.socket.destroy();
        this.onClose(new Error(`malformed reply: ${(e as Error).message}`));
        return;
      }
    }
    this.waiters.wake();
  }

  private onFrame(frame: Buffer): void {
    const r = new JuteReader(frame);
    const header = ReplyHeader.read(r);
    if (header.xid === Xid.notification) {
      const event = WatcherEvent.read(r);
      this.events.push({ zxid: header.zxid, event });
      this.transcript.push({ kind: 'event', zxid: header.zxid, event });
      return;
    }
    let p: Pending | undefined;
    if (header.xid < 0) {
      p = this.special.get(header.xid)?.shift();
      if (!p) throw new Error(`unexpected reply with xid ${header.xid}`);
    } else {
      p = this.pending.shift();
      if (!p) throw new Error(`unexpected reply with xid ${header.xid}, nothing outstanding`);
      if (p.xid !== header.xid) {
        const err = new Error(`reply xid ${header.xid} but expected ${p.xid} (FIFO order broken)`);
        p.reject(err);
        throw err;
      }
    }
    let body: unknown = null;
    if (header.err === 0) {
      const codec = responseCodec(p.type);
      if (codec) body = codec.read(r);
    }
    this.transcript.push({ kind: 'reply', xid: header.xid, type: p.type, header, body });
    p.resolve({ header, body });
  }

  private onClose(reason: Error): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    this.transcript.push({ kind: 'closed' });
    const all = [...this.pending.splice(0)];
    for (const q of this.special.values()) all.push(...q.splice(0));
    for (const p of all) p.reject(reason);
    this.waiters.wake();
    this.resolveClosed();
  }
}

export type { MultiResult };

export function connect(host: string, port: number, options?: ConnectOptions): Promise<RawClient> {
  return RawClient.connect(host, port, options);
}

/** A ConnectRequest frame as a client sends it, the readOnly byte included. */
export function connectRequestFrame(options: ConnectOptions = {}): Buffer {
  const w = new JuteWriter();
  const at = w.beginFrame();
  w.int(0)
    .longNumber(options.lastZxidSeen ?? 0)
    .int(options.timeoutMs ?? 30_000)
    .long(options.sessionId ?? 0n)
    .buffer(options.passwd ?? Buffer.alloc(16))
    .bool(options.readOnly ?? false);
  w.endFrame(at);
  return Buffer.from(w.bytes());
}

/** Resolves with the first entry of `transcript` matching `pred`, received so far or later (`waiters` wakes on each). */
export function waitForEntry(
  transcript: readonly TranscriptEntry[],
  waiters: Waiters,
  pred: (e: TranscriptEntry) => boolean,
  timeoutMs: number,
  what: string,
): Promise<TranscriptEntry> {
  let seen = 0;
  const match = (): TranscriptEntry | undefined => {
    for (; seen < transcript.length; seen++) if (pred(transcript[seen]!)) return transcript[seen];
    return undefined;
  };
  return waiters.until(match, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}
