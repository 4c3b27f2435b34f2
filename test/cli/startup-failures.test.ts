/**
 * `paddock server` and `paddock data` where the first hour goes wrong: an unusable dataDir (in
 * /proc, below a regular file), a port in use, a lost log segment, a reader that stops early.
 * Each gives one readable line and the right status, quickly, and leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeDisk } from '../../src/io/disk.js';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn, type Txn } from '../../src/jute/txn.js';
import { closeStore, openStore, takeSnapshot } from '../../src/persistence/store.js';
import { DataTree } from '../../src/tree/datatree.js';
import { serializeSnapshot } from '../../src/tree/snapshot.js';
import { freePort } from '../support/ports.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function run(args: string[], timeoutMs = 20_000): { status: number | null; stdout: string; stderr: string; ms: number } {
  const start = Date.now();
  // SIGKILL: a server stuck while starting has its SIGTERM handler installed already.
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - start };
}

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function zooCfg(dir: string, dataDir: string, port: number): string {
  const cfg = join(dir, 'zoo.cfg');
  writeFileSync(cfg, `dataDir=${dataDir}\nclientPort=${port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n`);
  return cfg;
}

test('a dataDir inside /proc fails at once with a readable line', { skip: existsSync('/proc/self') ? false : 'no /proc here' }, async (t) => {
  const dir = tmp(t);
  const r = run(['server', zooCfg(dir, '/proc/paddock-test/data', await freePort())], 10_000);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^paddock: cannot start: cannot use data directory \/proc\/paddock-test\/data: the file system does not allow creating it/m);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.ok(r.ms < 10_000);
});

test('a dataDir below a regular file fails with a readable line, no stack trace', async (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'file'), 'x');
  const r = run(['server', zooCfg(dir, join(dir, 'file', 'data'), await freePort())]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^paddock: cannot start: cannot use data directory .*file\/data: a part of the path is a file, not a directory$/m);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
});

test('a start that fails on a port in use releases the data directory lock', async (t) => {
  const dir = tmp(t);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as AddressInfo).port;
  const dataDir = join(dir, 'data');
  const r = run(['server', zooCfg(dir, dataDir, port)]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /address already in use/);
  assert.ok(existsSync(join(dataDir, 'version-2')), 'the data directory was opened');
  assert.equal(existsSync(join(dataDir, 'paddock.lock')), false, 'lock file left behind');
});

/** A dataDir with snapshot.0 and `count` creates in log segments of 100 txns. */
async function dataDirWith(dir: string, count: number): Promise<string> {
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const disk = new NodeDisk();
  const store = await openStore(disk, { dataDir, preAllocSizeKb: 0 });
  await takeSnapshot(disk, store, 0, serializeSnapshot(new DataTree(), new Map()));
  for (let z = 1; z <= count; z++) {
    const txn: Txn = {
      header: { sessionId: 1n, cxid: z, zxid: z, time: 1_700_000_000_000, type: OpCode.create },
      body: { type: OpCode.create, path: `/node-${z}`, data: Buffer.from('some data to make the dump long'), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: z },
    };
    store.log.append(z, encodeTxn(txn)).catch(() => undefined);
    if (z % 100 === 0) {
      await store.log.whenIdle();
      store.log.roll();
    }
  }
  await closeStore(store);
  return dataDir;
}

test('a lost middle log segment: the server refuses naming the range, inspect exits 1, --accept-data-loss starts once', async (t) => {
  const dir = tmp(t);
  const dataDir = await dataDirWith(dir, 300);
  rmSync(join(dataDir, 'version-2', 'log.65'));
  const port = await freePort();
  const cfg = zooCfg(dir, dataDir, port);
  const refused = run(['server', cfg]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, /^paddock: cannot start: txn log history has a hole: zxids 0x65-0xc8 \(100 txns\) missing between log\.1 and log\.c9 in .*--accept-data-loss\)$/m);
  assert.equal(existsSync(join(dataDir, 'paddock.lock')), false);
  const inspect = run(['data', 'inspect', dataDir]);
  assert.equal(inspect.status, 1);
  assert.match(inspect.stdout, /MISSING zxids 0x65-0xc8 \(100 txns\) between log\.1 and log\.c9/);

  // Accepted: the server starts, says what was lost, and snapshots over the hole.
  const child = spawn(process.execPath, [MAIN, 'server', '--accept-data-loss', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => void child.kill('SIGKILL'));
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start: ${stderr}`)), 20_000);
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (/listening/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /accepted the loss of zxids 0x65-0xc8 \(100 txns\) missing between log\.1 and log\.c9/);
  assert.match(stderr, /started with 100 txns lost/);
  // The next start needs no flag, and inspect is content.
  assert.equal(run(['data', 'inspect', dataDir]).status, 0);
});

test('paddock data dump piped into a reader that stops early exits 0 without a stack trace', async (t) => {
  const dir = tmp(t);
  const dataDir = await dataDirWith(dir, 3000);
  const child = spawn(process.execPath, [MAIN, 'data', 'dump', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  // Like `| head -1`: read one chunk, then close the pipe.
  child.stdout.once('data', () => child.stdout.destroy());
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
});
