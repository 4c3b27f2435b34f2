/**
 * A small, fast pipelined ZooKeeper client for load generation, built on src/jute.
 *
 * Requests are encoded once into frame templates (`encodeRequest`) and copied into a per-tick
 * output buffer with the xid patched in, so a send is a memcpy. Replies are matched to requests
 * by arrival order (ZooKeeper answers a session's requests in order) and checked against the
 * expected xid; bodies are left undecoded unless the caller reads them. Not a general client:
 * no reconnect, no watch bookkeeping beyond a callback.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { JuteReader, JuteWriter } from '../src/jute/binary.js';
import { Err, OpCode } from '../src/jute/constants.js';
import { FrameDecoder } from '../src/jute/framing.js';
import * as R from '../src/jute/records.js';
import { writeRequest, type Request } from '../src/jute/requests.js';

/** err is the reply header's error code; body starts at `bodyOffset` of `frame`. */
export type ReplyCallback = (err: number, frame: Buffer, sentAtMs: number) => void;
export type WatchCallback = (type: number, state: number, path: string, atMs: number) => void;

export const BODY_OFFSET = 16; // xid int, zxid long, err int

/** A request frame (length prefix included) with xid 0, to be sent with BenchClient.send. */
export function encodeRequest(req: Request): Buffer {
  const w = new JuteWriter(64);
  const at = w.beginFrame();
  w.int(0);
  w.int(req.type);
  writeRequest(w, req);
  w.endFrame(at);
  return Buffer.from(w.bytes());
}

export interface ConnectOptions {
  port: number;
  host?: string;
  /** Requested session timeout in ms. */
  timeoutMs?: number;
  /** Local address to connect from (any 127.x.y.z), to spread ephemeral ports. */
  localAddress?: string;
  maxFrameBytes?: number;
  /** How long to wait for the handshake. */
  connectDeadlineMs?: number;
}

const EMPTY = Buffer.alloc(0);
const OUT_CHUNK = 64 * 1024;

export class BenchClient {
  sessionId = 0n;
  negotiatedTimeoutMs = 0;
  lastZxid = 0;
  closed = false;
  onWatch: WatchCallback | null = null;
  onClose: (() => void) | null = null;

  private readonly decoder: FrameDecoder;
  private xid = 1;
  // FIFO of requests awaiting replies.
  private qXid: number[] = [];
  private qCb: ReplyCallback[] = [];
  private qAt: number[] = [];
  private qHead = 0;
  private pingSent: number[] = [];
  private pingCb: ((rttMs: number) => void) | null = null;
  private out: Buffer = Buffer.allocUnsafe(OUT_CHUNK);
  private outLen = 0;
  private flushScheduled = false;
  private closeWaiter: (() => void) | null = null;
  private readonly flushFn = (): void => this.flush();

  private constructor(private readonly socket: Socket, maxFrameBytes: number) {
    this.decoder = new FrameDecoder(maxFrameBytes);
  }

  static connect(opts: ConnectOptions): Promise<BenchClient> {
    const maxFrame = opts.maxFrameBytes ?? 4 * 1024 * 1024;
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port: opts.port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress });
      socket.setNoDelay(true);
      const client = new BenchClient(socket, maxFrame);
      const deadline = setTimeout(() => {
        socket.destroy();
        reject(new Error(`handshake with port ${opts.port} timed out`));
      }, opts.connectDeadlineMs ?? 30_000);
      let handshaking = true;
      const fail = (err: Error): void => {
        if (!handshaking) return;
        handshaking = false;
        clearTimeout(deadline);
        reject(err);
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        const w = new JuteWriter(64);
        const at = w.beginFrame();
        R.ConnectRequestBase.write(w, {
          protocolVersion: 0,
          lastZxidSeen: 0,
          timeOut: opts.timeoutMs ?? 30_000,
          sessionId: 0n,
          passwd: Buffer.alloc(16),
        });
        w.bool(false);
        w.endFrame(at);
        socket.write(Buffer.from(w.bytes()));
      });
      socket.on('data', (chunk: Buffer) => {
        let frames: Buffer[];
        try {
          frames = client.decoder.push(chunk);
        } catch (e) {
          socket.destroy();
          fail(e as Error);
          return;
        }
        for (const f of frames) {
          if (handshaking) {
            const r = new JuteReader(f);
            const resp = R.ConnectResponseBase.read(r);
            handshaking = false;
            clearTimeout(deadline);
            socket.off('error', fail);
            if (resp.timeOut <= 0 || resp.sessionId === 0n) {
              socket.destroy();
              reject(new Error('session refused by server'));
              return;
            }
            client.sessionId = resp.sessionId;
            client.negotiatedTimeoutMs = resp.timeOut;
            resolve(client);
          } else {
            client.onFrame(f);
          }
        }
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        fail(new Error('connection closed during handshake'));
        client.onSocketClose();
      });
    });
  }

  /** The xid the next request gets. */
  get nextXid(): number {
    return this.xid;
  }

  /** Requests awaiting a reply. */
  get outstanding(): number {
    return this.qXid.length - this.qHead;
  }

  /** Sends a frame made by encodeRequest; `cb` gets the reply. */
  send(template: Buffer, cb: ReplyCallback, sentAtMs = performance.now()): void {
    if (this.closed) {
      cb(Err.CONNECTIONLOSS, EMPTY, sentAtMs);
      return;
    }
    const xid = this.xid++;
    if (this.xid > 0x7ffffff0) this.xid = 1;
    this.qXid.push(xid);
    this.qCb.push(cb);
    this.qAt.push(sentAtMs);
    const n = template.length;
    if (this.outLen + n > this.out.length) {
      this.flush();
      if (n > this.out.length) this.out = Buffer.allocUnsafe(Math.max(n, OUT_CHUNK));
    }
    template.copy(this.out, this.outLen);
    this.out.writeInt32BE(xid, this.outLen + 4);
    this.outLen += n;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushFn);
    }
  }

  /** Sends a ping (xid -2); `cb` gets the round-trip time. */
  ping(cb?: (rttMs: number) => void): void {
    if (this.closed) return;
    if (cb) this.pingCb = cb;
    this.pingSent.push(performance.now());
    const frame = Buffer.allocUnsafe(12);
    frame.writeInt32BE(8, 0);
    frame.writeInt32BE(-2, 4);
    frame.writeInt32BE(OpCode.ping, 8);
    this.socket.write(frame);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outLen === 0 || this.closed) return;
    this.socket.write(this.out.subarray(0, this.outLen));
    this.out = Buffer.allocUnsafe(OUT_CHUNK);
    this.outLen = 0;
  }

  private onFrame(f: Buffer): void {
    const xid = f.readInt32BE(0);
    const now = performance.now();
    if (xid === -1) {
      const r = new JuteReader(f, BODY_OFFSET);
      const ev = R.WatcherEvent.read(r);
      this.onWatch?.(ev.type, ev.state, ev.path, now);
      return;
    }
    if (xid === -2) {
      const at = this.pingSent.shift();
      if (at !== undefined) this.pingCb?.(now - at);
      return;
    }
    const zxidHi = f.readInt32BE(4);
    const zxidLo = f.readUInt32BE(8);
    const zxid = zxidHi * 4294967296 + zxidLo;
    if (zxid > this.lastZxid) this.lastZxid = zxid;
    const err = f.readInt32BE(12);
    if (this.qHead >= this.qXid.length) throw new Error(`reply xid ${xid} with nothing outstanding`);
    const expected = this.qXid[this.qHead]!;
    if (expected !== xid) throw new Error(`reply out of order: expected xid ${expected}, got ${xid}`);
    const cb = this.qCb[this.qHead]!;
    const at = this.qAt[this.qHead]!;
    this.qHead++;
    if (this.qHead > 1024 && this.qHead * 2 > this.qXid.length) {
      this.qXid = this.qXid.slice(this.qHead);
      this.qCb = this.qCb.slice(this.qHead);
      this.qAt = this.qAt.slice(this.qHead);
      this.qHead = 0;
    }
    cb(err, f, at);
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    const cbs = this.qCb.slice(this.qHead);
    const ats = this.qAt.slice(this.qHead);
    this.qXid = [];
    this.qCb = [];
    this.qAt = [];
    this.qHead = 0;
    for (let i = 0; i < cbs.length; i++) cbs[i]!(Err.CONNECTIONLOSS, EMPTY, ats[i]!);
    this.closeWaiter?.();
    this.onClose?.();
  }

  /** Promise form of send, for setup code. Resolves with err and the frame. */
  call(template: Buffer): Promise<{ err: number; frame: Buffer }> {
    return new Promise((resolve) => this.send(template, (err, frame) => resolve({ err, frame })));
  }

  /** Ends the session (closeSession) and the connection; bounded by `deadlineMs`. */
  close(deadlineMs = 10_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), deadlineMs);
      this.closeWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
      this.send(CLOSE_SESSION, () => this.socket.end());
    });
  }

  /** Drops the connection without ending the session. */
  destroy(): void {
    this.socket.destroy();
  }
}

const CLOSE_SESSION = encodeRequest({ type: OpCode.closeSession });
