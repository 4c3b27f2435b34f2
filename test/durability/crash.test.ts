/**
 * kill -9 under write load, twenty times: every acknowledged write must be there after the
 * restart, no multi half-applied, and sequence numbers never go back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMode, Err, OpCode } from '../../src/jute/constants.js';
import { Prng } from '../../src/lib/prng.js';
import { RawClient } from '../support/rawclient.js';
import { freePort } from '../support/ports.js';
import { create } from '../server/helpers.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const KILLS = Number(process.env.CRASH_KILLS ?? 20);
const SEED = Number(process.env.CRASH_SEED ?? 20261122);

interface Acked {
  paths: Set<string>;
  /** Ephemerals acknowledged this round: their crashed sessions may expire later, so checked once. */
  ephemerals: Set<string>;
  versions: Map<string, number>;
  multis: Set<number>;
  maxSeq: string;
}

async function startProcess(cfgPath: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'server', cfgPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 20_000);
    child.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${log}`));
    });
  });
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  return child;
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

interface Counter {
  n: number;
  next: number;
  target: number;
  reached: () => void;
}

/** One session's write loop; stops at the first failure (the server died). */
async function writer(c: RawClient, id: number, rng: Prng, acked: Acked, counter: Counter): Promise<void> {
  for (;;) {
    const pick = rng.int(4);
    try {
      if (pick === 0) {
        const r = await c.send(create('/seq/n-', '', CreateMode.PERSISTENT_SEQUENTIAL));
        const path = (r.body as { path: string }).path;
        acked.paths.add(path);
        if (path > acked.maxSeq) acked.maxSeq = path;
      } else if (pick === 1) {
        const path = `/counter${id}`;
        const r = await c.send({ type: OpCode.setData, path, data: Buffer.from('x'), version: -1 });
        if (r.header.err === Err.OK) acked.versions.set(path, (r.body as { stat: { version: number } }).stat.version);
      } else if (pick === 2) {
        const k = counter.next++;
        const r = await c.send({ type: OpCode.multi, ops: [create(`/multi/${k}-a`), create(`/multi/${k}-b`)] });
        if ((r.body as { err: number }[]).every((x) => x.err === Err.OK)) acked.multis.add(k);
      } else {
        const path = `/eph/s${id}-${counter.next++}`;
        const r = await c.send(create(path, '', CreateMode.EPHEMERAL));
        if (r.header.err === Err.OK) acked.ephemerals.add(path);
      }
      if (++counter.n >= counter.target) counter.reached();
    } catch {
      return;
    }
  }
}

async function verify(port: number, acked: Acked): Promise<void> {
  const c = await RawClient.connect('127.0.0.1', port, { timeoutMs: 30_000 });
  const missing: string[] = [];
  await Promise.all(
    [...acked.paths, ...acked.ephemerals].map(async (p) => {
      const r = await c.send({ type: OpCode.exists, path: p, watch: false });
      if (r.header.err !== Err.OK) missing.push(p);
    }),
  );
  assert.deepEqual(missing, [], 'every acknowledged create survives');
  for (const [path, version] of acked.versions) {
    const r = await c.send({ type: OpCode.exists, path, watch: false });
    assert.ok((r.body as { stat: { version: number } }).stat.version >= version, `${path} kept version ${version}`);
  }
  const kids = await c.send({ type: OpCode.getChildren, path: '/multi', watch: false });
  const names = new Set((kids.body as { children: string[] }).children);
  for (const name of names) {
    const [k, side] = name.split('-');
    assert.ok(names.has(`${k}-${side === 'a' ? 'b' : 'a'}`), `multi ${k} is whole`);
  }
  for (const k of acked.multis) assert.ok(names.has(`${k}-a`), `acknowledged multi ${k} survives`);
  const next = await c.send(create('/seq/n-', '', CreateMode.PERSISTENT_SEQUENTIAL));
  const nextPath = (next.body as { path: string }).path;
  assert.ok(nextPath > acked.maxSeq, `sequence ${nextPath} is past ${acked.maxSeq}`);
  acked.paths.add(nextPath);
  acked.maxSeq = nextPath;
  acked.ephemerals.clear();
  await c.close();
}

test(`kill -9 under load ${KILLS} times loses no acknowledged write`, { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-crash-'));
  const rng = new Prng(SEED);
  const acked: Acked = { paths: new Set(), ephemerals: new Set(), versions: new Map(), multis: new Set(), maxSeq: '' };
  const counter: Counter = { n: 0, next: 0, target: Infinity, reached: () => undefined };
  try {
    const port = await freePort();
    const cfgPath = join(dir, 'zoo.cfg');
    writeFileSync(cfgPath, `tickTime=2000\ndataDir=${dir}\nclientPort=${port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nsnapCount=200\n`);
    let child = await startProcess(cfgPath);
    const setup = await RawClient.connect('127.0.0.1', port);
    for (const p of ['/seq', '/multi', '/eph', '/counter0', '/counter1', '/counter2']) await setup.send(create(p));
    await setup.close();
    for (let round = 0; round < KILLS; round++) {
      const clients = await Promise.all([0, 1, 2].map(() => RawClient.connect('127.0.0.1', port, { timeoutMs: 30_000 })));
      // Kill when the load has made a random number of acknowledged writes: an event, not a timer.
      const reached = new Promise<void>((resolve) => (counter.reached = resolve));
      counter.target = counter.n + 20 + rng.int(150);
      const loops = clients.map((c, i) => writer(c, i, new Prng(SEED + round * 10 + i), acked, counter));
      await reached;
      await kill9(child);
      await Promise.all(loops);
      for (const c of clients) c.destroy();
      child = await startProcess(cfgPath);
      await verify(port, acked);
    }
    await kill9(child);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
