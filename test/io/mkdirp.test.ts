import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode, NodeDisk } from '../../src/io/disk.js';

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-mkdirp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('NodeDisk.mkdirp creates every missing level and accepts an existing directory', async (t) => {
  const base = tmp(t);
  const disk = new NodeDisk();
  await disk.mkdirp(join(base, 'a', 'b', 'c'));
  assert.ok(statSync(join(base, 'a', 'b', 'c')).isDirectory());
  await disk.mkdirp(join(base, 'a', 'b', 'c'));
  await disk.mkdirp(join(base, 'a', '..', 'a', 'd'));
  assert.ok(existsSync(join(base, 'a', 'd')));
});

test('NodeDisk.mkdirp fails, once and at once, below a file, on a file, and where mkdir answers ENOENT (/proc)', { timeout: 10_000 }, async (t) => {
  const base = tmp(t);
  const disk = new NodeDisk();
  writeFileSync(join(base, 'file'), 'x');
  await assert.rejects(disk.mkdirp(join(base, 'file', 'x', 'y')), (err: unknown) => errorCode(err) === 'ENOTDIR');
  await assert.rejects(disk.mkdirp(join(base, 'file')), (err: unknown) => errorCode(err) === 'EEXIST');
  // Node's own recursive mkdir retries this forever.
  if (existsSync('/proc/self')) await assert.rejects(disk.mkdirp('/proc/paddock-mkdirp-test/x'), (err: unknown) => errorCode(err) === 'ENOENT');
});
