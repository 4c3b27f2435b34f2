/**
 * NodeDisk's writeAndSync, done on the sync worker thread: bytes land at their offsets, the sync
 * really happens, errors come back coded, a dead worker fails its writes and is replaced, and the
 * worker never keeps a process alive once its writes are done.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorCode, NodeDisk } from '../../src/io/disk.js';
import { _crashSyncWorker, writeAndSyncFd } from '../../src/io/sync-worker.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-sync-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function ownBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(new ArrayBuffer(text.length));
  bytes.set(Buffer.from(text));
  return bytes;
}

test('writeAndSync writes each chunk at its offset, in order', async (t) => {
  const path = join(tempDir(t), 'f');
  const file = await new NodeDisk().open(path, 'create');
  await file.writeAndSync([{ data: ownBytes('hello'), position: 0 }], true);
  // A gap, an overwrite of an earlier chunk by a later one, and a chunk that is a pool slice.
  const pooled = Buffer.from('XY');
  await file.writeAndSync(
    [
      { data: ownBytes('world'), position: 8 },
      { data: ownBytes('abc'), position: 10 },
      { data: pooled, position: 3 },
    ],
    true,
  );
  await file.close();
  assert.deepEqual(readFileSync(path), Buffer.from('helXY\0\0\0woabc'));
  assert.equal(pooled.toString(), 'XY', 'a slice of a shared buffer is copied, not taken');
});

test("writeAndSync takes a chunk's own ArrayBuffer instead of copying it", async (t) => {
  const file = await new NodeDisk().open(join(tempDir(t), 'f'), 'create');
  const data = ownBytes('moved');
  await file.writeAndSync([{ data, position: 0 }], false);
  assert.equal(data.byteLength, 0, 'transferred to the worker, so detached here');
  await file.close();
});

test('writeAndSync fdatasyncs after the writes only when asked', async () => {
  // fdatasync on /dev/null fails with EINVAL while writes to it succeed: the error shows the sync ran.
  const file = await new NodeDisk().open('/dev/null', 'readWrite');
  try {
    await file.writeAndSync([{ data: ownBytes('x'), position: 0 }], false);
    await assert.rejects(file.writeAndSync([{ data: ownBytes('x'), position: 0 }], true), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal(errorCode(err), 'EINVAL');
      assert.equal((err as NodeJS.ErrnoException).syscall, 'fdatasync');
      return true;
    });
  } finally {
    await file.close();
  }
});

test('errors come back as coded Errors, and the worker goes on serving writes', async (t) => {
  const dir = tempDir(t);
  const disk = new NodeDisk();
  writeFileSync(join(dir, 'ro'), 'unchanged');
  const readOnly = await disk.open(join(dir, 'ro'), 'read');
  await assert.rejects(readOnly.writeAndSync([{ data: ownBytes('x'), position: 0 }], true), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.equal(errorCode(err), 'EBADF');
    assert.equal((err as NodeJS.ErrnoException).syscall, 'write');
    return true;
  });
  await readOnly.close();
  assert.equal(readFileSync(join(dir, 'ro'), 'utf8'), 'unchanged');

  const fd = openSync(join(dir, 'closed'), 'w');
  closeSync(fd);
  await assert.rejects(writeAndSyncFd(fd, [{ data: ownBytes('x'), position: 0 }], true), (err: unknown) => errorCode(err) === 'EBADF');

  const file = await disk.open(join(dir, 'ok'), 'create');
  await file.writeAndSync([{ data: ownBytes('fine'), position: 0 }], true);
  await file.close();
  assert.equal(readFileSync(join(dir, 'ok'), 'utf8'), 'fine');
});

test('a file closed on our side rejects with EBADF without reaching the worker', async (t) => {
  const file = await new NodeDisk().open(join(tempDir(t), 'f'), 'create');
  await file.close();
  await assert.rejects(file.writeAndSync([{ data: ownBytes('x'), position: 0 }], true), (err: unknown) => errorCode(err) === 'EBADF');
});

test('close waits for a write in flight on the same file', async (t) => {
  const path = join(tempDir(t), 'f');
  const file = await new NodeDisk().open(path, 'create');
  const big = new Uint8Array(new ArrayBuffer(4 << 20)).fill(7);
  const written = file.writeAndSync([{ data: big, position: 0 }], true);
  await file.close();
  await written;
  const back = readFileSync(path);
  assert.equal(back.length, 4 << 20);
  assert.ok(back.every((b) => b === 7));
});

test('a dead worker fails the writes it had, and the next write starts a new one', async (t) => {
  const dir = tempDir(t);
  const file = await new NodeDisk().open(join(dir, 'f'), 'create');
  await file.writeAndSync([{ data: ownBytes('before'), position: 0 }], true);
  _crashSyncWorker();
  await assert.rejects(file.writeAndSync([{ data: ownBytes('lost'), position: 0 }], true), (err: unknown) => {
    assert.equal(errorCode(err), 'ERR_SYNC_WORKER_EXITED');
    assert.match((err as Error).message, /sync worker exited/);
    return true;
  });
  await file.writeAndSync([{ data: ownBytes('after!'), position: 0 }], true);
  await file.close();
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'after!');
});

test('the worker keeps a process alive for a write in flight, and not once it is done', async (t) => {
  const path = join(tempDir(t), 'f');
  const diskModule = fileURLToPath(new URL('../../src/io/disk.js', import.meta.url));
  // Nothing awaits the write: only the worker's ref while it is in flight keeps the process up.
  const script = `
    const { NodeDisk } = await import(${JSON.stringify(diskModule)});
    const file = await new NodeDisk().open(${JSON.stringify(path)}, 'create');
    void file.writeAndSync([{ data: new Uint8Array(1 << 20).fill(1), position: 0 }], true)
      .then(() => { process.exitCode = 42; });
  `;
  // The timeout only bounds a hang; it plays no part when things work.
  const { exitCode, stderr } = await new Promise<{ exitCode: number | null; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 }, (_err, _stdout, stderr) =>
      resolve({ exitCode: child.exitCode, stderr }),
    );
  });
  assert.equal(exitCode, 42, `the process exited by itself after the write finished; stderr: ${stderr}`);
  assert.equal(readFileSync(path).length, 1 << 20);
});
