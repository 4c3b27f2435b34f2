/**
 * The sync worker thread's code (started by sync-worker.ts): for each request, write the chunks
 * and fdatasync with blocking calls, back to back, then send one reply. Blocking is the point:
 * this thread has nothing else to do, and no event loop turn separates the write from the sync.
 */
import { fdatasyncSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { assert } from '../lib/assert.js';
import type { SyncReply, SyncRequest } from './sync-worker.js';

assert(parentPort !== null, 'sync-worker-thread.js runs only as a worker thread');
const port = parentPort;

// A malformed request is a programmer error: the assertion throws out of the handler and kills
// the thread, which the main side turns into rejected writes.
port.on('message', (request: SyncRequest) => {
  const times: [number, number, number] | undefined = request.trace ? [now(), 0, 0] : undefined;
  reply(serve(checked(request), times), request, times);
});

const now = (): number => Number(process.hrtime.bigint());

function serve(request: SyncRequest, times: [number, number, number] | undefined): SyncReply['error'] {
  try {
    for (const chunk of request.chunks) writeFully(request.fd, new Uint8Array(chunk.bytes), chunk.position);
    if (times) times[1] = now();
    if (request.sync) fdatasyncSync(request.fd);
    if (times) times[2] = now();
    return null;
  } catch (err) {
    return describe(err);
  }
}

/**
 * Hands the batch's buffers back with the reply: this thread allocates too little to collect
 * garbage often, so buffers dropped here would pile up (over 100 MB) before being freed.
 */
function reply(error: SyncReply['error'], request: SyncRequest, times: SyncReply['times']): void {
  const buffers = [...new Set(request.chunks.map((c) => c.bytes))];
  const message: SyncReply = { id: request.id, error, buffers, ...(times ? { times } : {}) };
  port.postMessage(message, buffers);
}

function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    const written = writeSync(fd, bytes, done, bytes.length - done, position + done);
    if (written <= 0) throw Object.assign(new Error(`EIO: short write at ${position + done}`), { code: 'EIO' });
    done += written;
  }
}

/** The fields of a Node error that survive the trip: message, code, errno, syscall. */
function describe(err: unknown): NonNullable<SyncReply['error']> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as NodeJS.ErrnoException;
  const out: NonNullable<SyncReply['error']> = { message: e.message };
  if (e.code !== undefined) out.code = e.code;
  if (e.errno !== undefined) out.errno = e.errno;
  if (e.syscall !== undefined) out.syscall = e.syscall;
  return out;
}

function checked(request: SyncRequest): SyncRequest {
  assert(typeof request === 'object' && request !== null, 'sync request is an object');
  assert(Number.isSafeInteger(request.id) && request.id > 0, `sync request id ${String(request.id)}`);
  assert(Number.isSafeInteger(request.fd), `sync request fd ${String(request.fd)}`);
  assert(typeof request.sync === 'boolean' && typeof request.trace === 'boolean' && Array.isArray(request.chunks), 'sync request shape');
  for (const c of request.chunks) {
    assert(c.bytes instanceof ArrayBuffer && Number.isSafeInteger(c.position) && c.position >= 0, 'sync request chunk');
  }
  return request;
}
