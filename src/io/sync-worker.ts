/**
 * The sync worker: one thread for the process that writes a batch's chunks and fdatasyncs them
 * back to back, as ZooKeeper's SyncRequestProcessor thread does.
 *
 * Why a thread: on the main thread each FileHandle call is its own threadpool round trip, and the
 * next one starts only when the busy event loop gets to it (10 ms and more between a batch's
 * pwrite and its fdatasync under load, for a 0.5 ms fdatasync). Here a batch costs one message
 * each way and the main thread does nothing in between.
 *
 * The worker is unref()ed while idle so it never keeps the process alive, and ref()ed while a
 * write is in flight so the process cannot exit under an unfinished fsync. If it dies, every
 * write in flight rejects with code ERR_SYNC_WORKER_EXITED and the next write starts a new one.
 */
import { Worker } from 'node:worker_threads';
import { assert } from '../lib/assert.js';
import { stamp, stampAt, TRACING } from './trace.js';

export interface WriteChunk {
  data: Uint8Array;
  position: number;
}

/** One batch for the thread; `bytes` are transferred, not copied. */
export interface SyncRequest {
  id: number;
  fd: number;
  chunks: { bytes: ArrayBuffer; position: number }[];
  sync: boolean;
  /** PADDOCK_TRACE: the thread sends back when it started, wrote and synced (monotonic ns). */
  trace: boolean;
}

/** What the thread sends back for each request: null, or the fields of the thrown Node error. */
export interface SyncReply {
  id: number;
  error: { message: string; code?: string; errno?: number; syscall?: string } | null;
  /** The request's buffers, transferred back so this thread's frequent GC frees them. */
  buffers: ArrayBuffer[];
  /** With `trace`: when the thread took the request, finished writing and finished syncing. */
  times?: [number, number, number];
}

const THREAD_URL = new URL('./sync-worker-thread.js', import.meta.url);

/** Writes in flight at once; each txn log has at most one, so more is a leak. */
const MAX_IN_FLIGHT = 4096;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

class SyncWorker {
  private readonly worker: Worker;
  private readonly inFlight = new Map<number, Waiter>();
  private nextId = 1;
  private crash: Error | null = null;
  exited = false;

  constructor() {
    // No inherited node flags: the thread only writes, and some (--input-type) would stop it loading.
    this.worker = new Worker(THREAD_URL, { execArgv: [] });
    this.worker.unref();
    this.worker.on('message', (reply: SyncReply) => this.settle(reply));
    this.worker.on('error', (err) => (this.crash = err));
    this.worker.on('messageerror', (err) => (this.crash = err));
    this.worker.on('exit', (exitCode) => this.onExit(exitCode));
  }

  submit(fd: number, chunks: readonly WriteChunk[], sync: boolean): Promise<void> {
    assert(this.inFlight.size < MAX_IN_FLIGHT, () => `${this.inFlight.size} sync worker writes in flight`);
    const id = this.nextId++;
    const request: SyncRequest = { id, fd, chunks: [], sync, trace: TRACING };
    const transfer = new Set<ArrayBuffer>();
    for (const c of chunks) {
      const bytes = ownBuffer(c.data);
      request.chunks.push({ bytes, position: c.position });
      transfer.add(bytes);
    }
    return new Promise<void>((resolve, reject) => {
      if (this.inFlight.size === 0) this.worker.ref();
      this.inFlight.set(id, { resolve, reject });
      if (TRACING) stamp('w.post', id);
      this.worker.postMessage(request, [...transfer]);
    });
  }

  /** Test hook: sends a message the thread rejects by failing an assertion, which kills it. */
  postMalformed(): void {
    this.worker.postMessage({ id: 'not a request' });
  }

  private settle(reply: SyncReply): void {
    const waiter = this.inFlight.get(reply.id);
    assert(waiter !== undefined, () => `sync worker reply for unknown request ${reply.id}`);
    this.inFlight.delete(reply.id);
    if (this.inFlight.size === 0) this.worker.unref();
    if (TRACING && reply.times) {
      stampAt(reply.times[0], 'w.start', reply.id);
      stampAt(reply.times[1], 'w.written', reply.id);
      stampAt(reply.times[2], 'w.synced', reply.id);
      stamp('w.settled', reply.id);
    }
    if (reply.error === null) waiter.resolve();
    else waiter.reject(Object.assign(new Error(reply.error.message), withoutMessage(reply.error)));
  }

  private onExit(exitCode: number): void {
    this.exited = true;
    if (current === this) current = null;
    const why = this.crash ? `: ${this.crash.message}` : '';
    for (const [id, waiter] of this.inFlight) {
      // Whether the write reached the disk is unknown; callers treat this like EIO.
      const err = new Error(`sync worker exited (code ${exitCode}${why}) before finishing write ${id}; it may be partly done`, {
        cause: this.crash ?? undefined,
      });
      waiter.reject(Object.assign(err, { code: 'ERR_SYNC_WORKER_EXITED' }));
    }
    this.inFlight.clear();
  }
}

/**
 * The ArrayBuffer to transfer for `data`: its own when `data` covers all of it (the caller hands
 * it over), else a copy, since transferring a shared buffer (such as Buffer's pool) would detach
 * bytes that belong to others.
 */
function ownBuffer(data: Uint8Array): ArrayBuffer {
  const buf = data.buffer;
  if (buf instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buf.byteLength) return buf;
  return new Uint8Array(data).buffer;
}

function withoutMessage(error: NonNullable<SyncReply['error']>): Omit<typeof error, 'message'> {
  const { message: _message, ...rest } = error;
  return rest;
}

let current: SyncWorker | null = null;

function worker(): SyncWorker {
  if (current === null || current.exited) current = new SyncWorker();
  return current;
}

/**
 * Writes each chunk at its position on `fd` in order, then fdatasyncs if `sync`, all on the
 * sync worker thread. Takes over the chunks' buffers: a chunk that covers its whole ArrayBuffer
 * is transferred (detached here), so callers must not touch the bytes afterwards. Rejects with
 * Node's coded errors (ENOSPC, EIO, EBADF, ...); may leave a prefix written when it fails.
 * The caller must keep `fd` open until the promise settles.
 */
export function writeAndSyncFd(fd: number, chunks: readonly WriteChunk[], sync: boolean): Promise<void> {
  return worker().submit(fd, chunks, sync);
}

/** @internal Kills the sync worker thread, to test that writes in flight fail and the next one works. */
export function _crashSyncWorker(): void {
  worker().postMalformed();
}
