/**
 * The request pipeline (RequestPipeline) driven without sockets: a MemoryDisk data directory, a fake
 * clock the test advances, and fake client links that encode every reply and event to wire bytes
 * and decode them again, as a client would. Most server tests need nothing more and run in
 * milliseconds; framing, four-letter words, connection limits and handshake deadlines still need
 * TCP (test/server/helpers.ts).
 */
import { randomBytes } from 'node:crypto';
import { authenticate } from '../../src/acl/index.js';
import { resolveConfig } from '../../src/server/index.js';
import { openDatabase } from '../../src/server/database.js';
import { silentLogger } from '../../src/server/logger.js';
import { EventFrames, writeBody } from '../../src/server/connection.js';
import { RequestPipeline, type ClientLink } from '../../src/pipeline/pipeline.js';
import type { EncodedChildren } from '../../src/pipeline/reads.js';
import { MemoryDisk } from '../../src/io/disk.js';
import { JuteReader, JuteWriter } from '../../src/jute/binary.js';
import type { Codec } from '../../src/jute/codec.js';
import { Err, OpCode, Xid } from '../../src/jute/constants.js';
import * as R from '../../src/jute/records.js';
import { readRequest, responseCodec, type Request, type RequestOf } from '../../src/jute/requests.js';
import type { ServerConfig } from '../../src/config/config.js';
import { RawClient, waitForEntry, withTimeout, type Reply, type TranscriptEntry } from './rawclient.js';
import { Waiters } from './waiters.js';

export type { Reply, TranscriptEntry };

export interface OpenOptions {
  /** Requested session timeout (ms). */
  timeoutMs?: number;
  sessionId?: bigint;
  passwd?: Buffer;
  lastZxidSeen?: number;
  remoteAddress?: string;
}

/** A server pipeline with a fake clock and an in-memory data directory. */
export class PipelineHarness {
  /** The fake clock, in ms; only advance() moves it. */
  nowMs = 1_000_000;
  private nextLinkId = 1;
  readonly eventFrames = new EventFrames();
  readonly links = new Set<FakeLink>();
  server!: RequestPipeline;

  private constructor(
    readonly config: ServerConfig,
    readonly disk: MemoryDisk,
  ) {}

  static async start(overrides: Partial<ServerConfig> = {}, disk = new MemoryDisk()): Promise<PipelineHarness> {
    // A small preallocation block: MemoryDisk would otherwise hold 64 MiB of zeros per segment.
    const config = resolveConfig({ dataDir: '/data', preAllocSizeKb: 64, ...overrides });
    const h = new PipelineHarness(config, disk);
    const db = await openDatabase(config, silentLogger, disk);
    const afterApply = (zk: RequestPipeline): void => db.commitLog.maybeSnapshot(zk.tree, () => zk.sessionTimeouts());
    const deps = { now: () => h.nowMs, log: db.commitLog, logger: silentLogger, afterApply, randomBytes: (n: number) => randomBytes(n), sessionSecret: db.sessionSecret };
    h.server = new RequestPipeline(config, deps, db.tree, db.sessions);
    return h;
  }

  /** Runs `fn` against a fresh harness and closes it afterwards. */
  static async with(overrides: Partial<ServerConfig>, fn: (h: PipelineHarness) => Promise<void>): Promise<void> {
    const h = await PipelineHarness.start(overrides);
    try {
      await fn(h);
    } finally {
      await h.close();
    }
  }

  /** Opens a session (or reopens one); rejects with "expired" as a refused client would see it. */
  async open(options: OpenOptions = {}): Promise<FakeLink> {
    const link = new FakeLink(this, this.nextLinkId++, options.remoteAddress ?? '127.0.0.1');
    this.links.add(link);
    this.server.connect(link, {
      protocolVersion: 0,
      lastZxidSeen: options.lastZxidSeen ?? 0,
      timeOut: options.timeoutMs ?? 30_000,
      sessionId: options.sessionId ?? 0n,
      passwd: options.passwd ?? Buffer.alloc(16),
      readOnly: false,
    });
    await withTimeout(Promise.race([link.connected, link.closed.then((why) => Promise.reject(new Error(`closed before the session opened: ${why}`)))]), 5000, 'session open');
    if (link.session.timeOut === 0) throw new Error('session expired: the server answered with timeOut 0');
    return link;
  }

  /**
   * Moves the fake clock forward `ms`, one tick at a time as the network layer's timer would,
   * letting the log write between ticks: sessions expire and containers go deterministically.
   */
  async advance(ms: number): Promise<void> {
    const step = this.config.tickTime;
    const end = this.nowMs + ms;
    while (this.nowMs < end) {
      this.nowMs = Math.min(end, this.nowMs + step);
      this.server.tick();
      await settle();
    }
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) link.drop();
    await this.server.close();
  }
}

/** Lets queued disk writes and their callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A fake client connection: requests go to the pipeline as decoded frames, replies come back as bytes. */
export class FakeLink implements ClientLink {
  readonly authIds: R.Id[];
  sessionId = 0n;
  session: { timeOut: number; sessionId: bigint; passwd: Buffer | null } = { timeOut: 0, sessionId: 0n, passwd: null };
  readonly transcript: TranscriptEntry[] = [];
  readonly events: { zxid: number; event: R.WatcherEvent }[] = [];
  /** Every frame the server sent, as bytes on the wire (length prefix included). */
  readonly frames: Buffer[] = [];
  /** Set true to make the pipeline hold this link's reads, as for a client that stops reading. */
  stalled = false;
  closeReason: string | null = null;
  readonly connected: Promise<void>;
  readonly closed: Promise<string>;
  private resolveConnected!: () => void;
  private resolveClosed!: (why: string) => void;
  private nextXid = 1;
  private readonly pending: { xid: number; type: number; resolve(r: Reply): void; reject(e: Error): void }[] = [];
  private readonly waiters = new Waiters();

  constructor(
    private readonly harness: PipelineHarness,
    readonly id: number,
    readonly remoteAddress: string,
  ) {
    this.authIds = [{ scheme: 'ip', id: remoteAddress }];
    this.connected = new Promise((r) => (this.resolveConnected = r));
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  // ---- ClientLink: what the server calls ----

  sendReply(xid: number, zxid: number, err: number, type: number, body: unknown): void {
    if (this.closeReason !== null) return;
    const w = new JuteWriter();
    const at = w.beginFrame();
    R.ReplyHeader.write(w, { xid, zxid, err });
    const codec = err === Err.OK && body !== null && body !== undefined ? responseCodec(type) : null;
    if (codec) writeBody(w, codec, body);
    w.endFrame(at);
    this.receive(Buffer.from(w.bytes()));
  }

  sendEvent(type: number, path: string): void {
    if (this.closeReason !== null) return;
    this.receive(this.harness.eventFrames.frame(type, path));
  }

  sendConnectResponse(timeOut: number, sessionId: bigint, passwd: Buffer): void {
    const w = new JuteWriter();
    const at = w.beginFrame();
    R.ConnectResponseBase.write(w, { protocolVersion: 0, timeOut, sessionId, passwd });
    w.endFrame(at);
    const frame = Buffer.from(w.bytes());
    this.frames.push(frame);
    this.session = R.ConnectResponseBase.read(new JuteReader(frame.subarray(4)));
    this.resolveConnected();
  }

  backedUp(): boolean {
    return this.stalled;
  }

  close(reason: string): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    this.transcript.push({ kind: 'closed' });
    // As the network layer does once the socket is gone.
    this.harness.server.disconnected(this);
    this.harness.links.delete(this);
    for (const p of this.pending.splice(0)) p.reject(new Error(`connection closed: ${reason}`));
    this.resolveClosed(reason);
    this.notifyListeners();
  }

  // ---- the client's side ----

  /** Sends a request through the wire codec and resolves with its decoded reply. */
  send(req: Request): Promise<Reply> {
    if (this.closeReason !== null) return Promise.reject(new Error(`connection closed: ${this.closeReason}`));
    const xid = req.type === OpCode.ping ? Xid.ping : req.type === OpCode.auth ? Xid.auth : this.nextXid++;
    const frame = RawClient.encode(xid, req);
    const r = new JuteReader(frame.subarray(4));
    const header = R.RequestHeader.read(r);
    const decoded = readRequest(header.type, r);
    const reply = new Promise<Reply>((resolve, reject) => this.pending.push({ xid, type: header.type, resolve, reject }));
    if (decoded.type === OpCode.auth) this.auth(xid, decoded as RequestOf<typeof OpCode.auth>);
    else this.harness.server.request(this, header.xid, header.type, decoded);
    return reply;
  }

  /** Auth is the connection's own op (see Connection.handleAuth): answered at once. */
  private auth(xid: number, req: RequestOf<typeof OpCode.auth>): void {
    const ids = authenticate(req.scheme, req.auth, this.harness.config.superDigest, this.remoteAddress);
    if (ids === null) {
      this.sendReply(xid, 0, Err.AUTHFAILED, req.type, null);
      this.close('authentication failed');
      return;
    }
    for (const id of ids) {
      if (!this.authIds.some((a) => a.scheme === id.scheme && a.id === id.id)) this.authIds.push(id);
    }
    this.sendReply(xid, 0, Err.OK, req.type, null);
  }

  /** The client reads again after `stalled`: held reads go on. */
  resume(): void {
    this.stalled = false;
    this.harness.server.linkDrained(this);
  }

  /** The connection drops without closing the session (a cut cable). */
  drop(): void {
    this.close('dropped by the test');
  }

  /** Closes the session and waits for the connection to end. */
  async closeSession(): Promise<void> {
    await this.send({ type: OpCode.closeSession });
    await this.closed;
  }

  /** Waits for a watch event matching `pred` (events already received count). */
  async waitForEvent(pred: (e: R.WatcherEvent) => boolean = () => true, timeoutMs = 5000): Promise<R.WatcherEvent> {
    const entry = await this.waitFor((e) => e.kind === 'event' && pred(e.event), timeoutMs, 'watch event');
    return (entry as { event: R.WatcherEvent }).event;
  }

  waitFor(pred: (e: TranscriptEntry) => boolean, timeoutMs = 5000, what = 'transcript entry'): Promise<TranscriptEntry> {
    return waitForEntry(this.transcript, this.waiters, pred, timeoutMs, what);
  }

  private receive(frame: Buffer): void {
    this.frames.push(frame);
    const r = new JuteReader(frame.subarray(4));
    const header = R.ReplyHeader.read(r);
    if (header.xid === Xid.notification) {
      const event = R.WatcherEvent.read(r);
      this.events.push({ zxid: header.zxid, event });
      this.transcript.push({ kind: 'event', zxid: header.zxid, event });
    } else {
      const at = this.pending.findIndex((p) => p.xid === header.xid);
      if (at === -1) throw new Error(`reply with xid ${header.xid} to nothing outstanding`);
      // Replies to ordinary requests must come in request order; auth and ping may overtake.
      if (header.xid > 0 && this.pending.some((p, i) => i < at && p.xid > 0)) throw new Error(`reply xid ${header.xid} out of FIFO order`);
      const [p] = this.pending.splice(at, 1);
      const codec = header.err === Err.OK ? responseCodec(p!.type) : null;
      const body = codec ? codec.read(r) : null;
      this.transcript.push({ kind: 'reply', xid: header.xid, type: p!.type, header, body });
      p!.resolve({ header, body });
    }
    this.notifyListeners();
  }

  private notifyListeners(): void {
    this.waiters.wake();
  }
}
