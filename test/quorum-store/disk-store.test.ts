import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDisk, NodeDisk, type Disk } from '../../src/io/disk.js';
import { JuteReader } from '../../src/jute/binary.js';
import { OpCode } from '../../src/jute/constants.js';
import { decodeTxn, encodeTxn } from '../../src/jute/txn.js';
import type { LogEntry } from '../../src/consensus/learner.js';
import { makeZxid, type Zxid } from '../../src/consensus/zxid.js';
import { PersistenceError, ZxidGapError } from '../../src/persistence/errors.js';
import { listSegments } from '../../src/persistence/txnlog.js';
import { listSnapshots } from '../../src/persistence/snapshots.js';
import { readZkSnapshotBody } from '../../src/persistence/zkformat.js';
import { replayTxn } from '../../src/sessions/replay.js';
import { DataTree, treeDiff } from '../../src/tree/index.js';
import { DiskQuorumStore, quorumStoreDirs, type QuorumState } from '../../src/server/quorum/disk-store.js';
import { EpochFileError, UPDATING_EPOCH_FILE } from '../../src/persistence/epochs.js';
import { TruncateRefusedError } from '../../src/server/quorum/learner-driver.js';
import { writeZkSnapshotStream } from '../../src/server/quorum/zk-snapshot-stream.js';
import { tempDir } from '../persistence/helpers.js';
import { forEachCrashPoint } from './crash.js';

const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
let dirs = 0;
/** A data dir of its own per test, so a failed test's lock cannot affect the next. */
function opts(preAllocSizeKb = 1): { dataDir: string; preAllocSizeKb: number } {
  return { dataDir: `/zk/data${++dirs}`, preAllocSizeKb };
}

/** A create of `/<prefix><n>` (with a session created first for n = 1) at `zxid`. */
function entry(zxid: Zxid, prefix: string, n: number): LogEntry {
  const header = { sessionId: 0x100n + BigInt(n), cxid: n, zxid: Number(zxid), time: 1_700_000_000_000 + n, type: OpCode.create };
  if (n % 4 === 1) {
    return { zxid, data: encodeTxn({ header: { ...header, type: OpCode.createSession }, body: { type: OpCode.createSession, timeOut: 30_000 + n } }) };
  }
  const body = { type: OpCode.create, path: `/${prefix}${n}`, data: Buffer.from(`${prefix} ${n} `.repeat(n)), acl: OPEN, ephemeral: false, parentCVersion: n };
  return { zxid, data: encodeTxn({ header, body }) };
}

function history(prefix: string, epochs: [epoch: bigint, count: number][]): LogEntry[] {
  const out: LogEntry[] = [];
  let n = 0;
  for (const [epoch, count] of epochs) for (let c = 1n; c <= BigInt(count); c++) out.push(entry(makeZxid(epoch, c), prefix, ++n));
  return out;
}

/** The tree and sessions the entries build from an empty start. */
function model(entries: readonly LogEntry[]): { tree: DataTree; sessions: Map<bigint, number> } {
  const tree = new DataTree();
  const sessions = new Map<bigint, number>();
  for (const e of entries) replayTxn(tree, sessions, decodeTxn(e.data));
  return { tree, sessions };
}

function assertState(state: QuorumState, entries: readonly LogEntry[], what = ''): void {
  const expected = model(entries);
  assert.equal(treeDiff(state.tree, expected.tree), null, `tree ${what}`);
  assert.deepEqual(state.sessions, expected.sessions, `sessions ${what}`);
  assert.equal(state.tree.lastProcessedZxid, Number(entries.at(-1)?.zxid ?? 0n), `lastProcessedZxid ${what}`);
}

function matchesOne(state: QuorumState, candidates: readonly (readonly LogEntry[])[]): number {
  return candidates.findIndex((c) => {
    const m = model(c);
    return treeDiff(state.tree, m.tree) === null && state.tree.lastProcessedZxid === Number(c.at(-1)?.zxid ?? 0n);
  });
}

async function open(disk: Disk, options: { dataDir: string; preAllocSizeKb: number }): Promise<{ store: DiskQuorumStore; state: QuorumState; warnings: string[] }> {
  const opened = await DiskQuorumStore.open(disk, { ...options, isAlive: () => false });
  return { store: opened.store, state: opened.state, warnings: opened.warnings };
}

/** Opens and sets both epochs (a learner that took part in epoch `epoch`'s NEWLEADER). */
async function openAt(disk: Disk, options: { dataDir: string; preAllocSizeKb: number }, epoch: bigint): Promise<{ store: DiskQuorumStore; state: QuorumState }> {
  const opened = await open(disk, options);
  await opened.store.setAcceptedEpoch(epoch);
  await opened.store.setCurrentEpoch(epoch);
  return opened;
}

/** Applies entries to a live state, as the driver does after logging them. */
function applyTo(state: QuorumState, entries: readonly LogEntry[]): void {
  for (const e of entries) replayTxn(state.tree, state.sessions, decodeTxn(e.data));
}

/** Logs entries, applies them to the live state and snapshots it, as the driver does. */
async function logAndSnapshot(store: DiskQuorumStore, state: QuorumState, entries: readonly LogEntry[]): ReturnType<DiskQuorumStore['takeSnapshot']> {
  await store.append(entries);
  applyTo(state, entries);
  return store.takeSnapshot(state.tree, state.sessions);
}

/** Opens the store on `disk`, runs `steps`, and closes it also when a crash point interrupts them. */
async function withStore(disk: Disk, options: { dataDir: string; preAllocSizeKb: number }, steps: (store: DiskQuorumStore, state: QuorumState) => Promise<void>): Promise<void> {
  const { store, state } = await open(disk, options);
  try {
    await steps(store, state);
  } finally {
    await store.close().catch(() => undefined);
  }
}

const A = history('a', [
  [1n, 6],
  [2n, 5],
]);
const E = (epoch: bigint, counter: bigint): Zxid => makeZxid(epoch, counter);

/** A closed data dir at epoch 3 holding all of A, snapshotted after each count of `snapshotsAfter`. */
async function diskWithA(options: { dataDir: string; preAllocSizeKb: number }, snapshotsAfter: readonly number[]): Promise<MemoryDisk> {
  const disk = new MemoryDisk();
  const { store, state } = await openAt(disk, options, 3n);
  let logged = 0;
  for (const count of snapshotsAfter) {
    await logAndSnapshot(store, state, A.slice(logged, count));
    logged = count;
  }
  await store.append(A.slice(logged));
  await store.close();
  return disk;
}

test('an empty data dir: epochs 0 (files created), an empty tree, snapshot.0 written', async () => {
  const disk = new MemoryDisk();
  const o = opts();
  const { snapDir } = quorumStoreDirs(o);
  const { store, state, warnings } = await open(disk, o);
  assert.equal(state.acceptedEpoch, 0n);
  assert.equal(state.currentEpoch, 0n);
  assert.equal(state.lastLoggedZxid, 0n);
  assert.equal(warnings.filter((w) => /Epoch not found/.test(w)).length, 0, 'a new data dir gets its epoch files silently');
  await store.close();
  assert.deepEqual((await listSnapshots(disk, snapDir)).map((s) => s.name), ['snapshot.0']);
  assert.equal((await disk.readFile(join(snapDir, 'currentEpoch'))).toString(), '0');
});

test('a learner restarts with its epochs, its log and its tree (and ZooKeeper-format epoch files)', async (t) => {
  const disk = new NodeDisk();
  const dataDir = tempDir(t);
  const options = { dataDir, preAllocSizeKb: 4 };
  const first = await open(disk, options);
  await first.store.setAcceptedEpoch(2n);
  await first.store.append(A.slice(0, 6));
  await first.store.append(A.slice(6));
  await first.store.setCurrentEpoch(2n);
  assert.equal(first.store.lastLoggedZxid, E(2n, 5n));
  await first.store.close();
  assert.equal(readFileSync(join(dataDir, 'version-2', 'acceptedEpoch'), 'latin1'), '2');
  const again = await open(disk, options);
  assert.deepEqual([again.state.acceptedEpoch, again.state.currentEpoch, again.state.lastLoggedZxid], [2n, 2n, E(2n, 5n)]);
  assertState(again.state, A);
  assert.deepEqual(again.warnings, []);
  await again.store.close();
});

test('truncate, then append: the tree is rebuilt from what is left and a restart agrees', async () => {
  const disk = new MemoryDisk();
  const o = opts();
  const { store } = await openAt(disk, o, 3n);
  await store.append(A);
  const state = await store.truncate(E(1n, 4n));
  assertState(state, A.slice(0, 4), 'after truncate');
  assert.equal(state.lastLoggedZxid, E(1n, 4n));
  const L = history('l', [[3n, 3]]);
  await store.append(L);
  await store.close();
  disk.crash();
  const again = await open(disk, o);
  assertState(again.state, [...A.slice(0, 4), ...L]);
  await again.store.close();
});

test('truncating below a snapshot removes the newer snapshots, then the log, as far as needed', async () => {
  const disk = new MemoryDisk();
  const o = opts(0);
  const { snapDir } = quorumStoreDirs(o);
  const { store, state } = await openAt(disk, o, 2n);
  const snap = await logAndSnapshot(store, state, A.slice(0, 8));
  assert.equal(snap.zxid, A[7]!.zxid);
  await store.append(A.slice(8));
  const truncated = await store.truncate(E(1n, 3n));
  assertState(truncated, A.slice(0, 3));
  assert.equal(truncated.snapshotZxid, 0n);
  assert.deepEqual((await listSnapshots(disk, snapDir)).map((s) => s.zxid), [0]);
  await store.close();
  const again = await open(disk, o);
  assertState(again.state, A.slice(0, 3));
  await again.store.close();
});

test('a truncation the disk cannot honour is refused before anything changes', async () => {
  const disk = new MemoryDisk();
  const o = opts();
  const { snapDir } = quorumStoreDirs(o);
  const { store } = await openAt(disk, o, 2n);
  await store.append(A.slice(0, 4));
  const leader = model(A.slice(0, 7));
  await store.installSnapshot(A[6]!.zxid, leader.tree, leader.sessions);
  await store.append(A.slice(7, 9));
  const before = await disk.list(snapDir);
  // The log before the installed snapshot is gone: 0x100000003 cannot be rebuilt.
  assert.equal(store.fullSyncNeeded, false);
  await assert.rejects(store.truncate(E(1n, 3n)), (err: unknown) => err instanceof TruncateRefusedError && /reaches only 0x0 before it/.test(err.message));
  assert.deepEqual(await disk.list(snapDir), before);
  assertState(await store.load(), A.slice(0, 9));
  // The next sync asks for the whole state; a full sync (here by DIFF) replaces it.
  assert.equal(store.fullSyncNeeded, true);
  await store.reset(A.slice(0, 3), 2);
  assert.equal(store.fullSyncNeeded, false);
  assert.equal(store.snapshotZxid, A[1]!.zxid);
  assertState(await store.load(), A.slice(0, 3));
  // The uncommitted tail of the full sync is a log again: a TRUNC can cut it.
  assertState(await store.truncate(A[1]!.zxid), A.slice(0, 2));
  await store.close();
});

test('a full sync by an empty DIFF (the leader has no txns) leaves the empty tree at zxid 0', async () => {
  const disk = new MemoryDisk();
  const o = opts();
  const { store } = await openAt(disk, o, 2n);
  const leader = model(A.slice(0, 4));
  await store.installSnapshot(A[3]!.zxid, leader.tree, leader.sessions);
  await store.append(A.slice(4, 6));
  await store.reset([], 0);
  assert.equal(store.lastLoggedZxid, 0n);
  await store.close();
  disk.crash();
  const again = await open(disk, o);
  assertState(again.state, []);
  assert.equal(again.state.lastLoggedZxid, 0n);
  await again.store.close();
});

test('a hole in the log is a ZxidGapError, also when truncating', async () => {
  const disk = new MemoryDisk();
  const o = opts(0);
  const { store } = await openAt(disk, o, 2n);
  await store.append(A.slice(0, 3));
  await store.close();
  // Simulate a lost segment: a new one that starts after a gap.
  const reopened = await open(disk, o);
  await reopened.store.append(A.slice(5, 7));
  await assert.rejects(reopened.store.load(), ZxidGapError);
  await assert.rejects(reopened.store.truncate(A[5]!.zxid), ZxidGapError);
  await reopened.store.close();
  await assert.rejects(open(disk, o), ZxidGapError);
});

test('a snapshot from the leader (SNAP) replaces tree and log; a restart starts from it', async () => {
  const disk = new MemoryDisk();
  const o = opts();
  const { logDir } = quorumStoreDirs(o);
  const { store } = await openAt(disk, o, 2n);
  // Our history diverges from the leader's after 0x100000002 and runs past its snapshot.
  await store.append(A.slice(0, 9));
  const L = [...A.slice(0, 2), ...history('l', [[1n, 6]]).slice(2)];
  const leader = model(L.slice(0, 5));
  const stream = writeZkSnapshotStream(leader.tree, leader.sessions);
  const zkSnap = readZkSnapshotBody(new JuteReader(stream, 0, stream.length, 0x7fffffff));
  const built = await store.installZkSnapshot(L[4]!.zxid, zkSnap);
  assert.equal(treeDiff(built.tree, leader.tree), null);
  assert.equal(store.lastLoggedZxid, L[4]!.zxid);
  assert.deepEqual(await listSegments(disk, logDir), []);
  // Nothing from before the snapshot can be sent in a DIFF any more.
  assert.equal(await store.diffAfter(A[1]!.zxid, L[4]!.zxid), null);
  await store.append(L.slice(5));
  await store.close();
  disk.crash();
  const again = await open(disk, o);
  assertState(again.state, L);
  assert.equal(again.state.snapshotZxid, L[4]!.zxid);
  await again.store.close();
});

test('leader reads: its history after the snapshot, and DIFFs from the on-disk log', async () => {
  const disk = new MemoryDisk();
  const o = opts(0);
  const { store, state } = await openAt(disk, o, 2n);
  await store.append(A.slice(0, 4));
  // Before any snapshot the log starts at the beginning: a DIFF from zxid 0 works.
  assert.equal((await store.diffAfter(0n, A[2]!.zxid))?.length, 3);
  applyTo(state, A.slice(0, 4));
  await store.takeSnapshot(state.tree, state.sessions);
  await store.append(A.slice(4));
  // The newest txns are held in memory: the history may start before the snapshot, never after it.
  const h = await store.history();
  assert.ok(h.snapshotZxid <= A[3]!.zxid);
  const from = A.findIndex((e) => e.zxid > h.snapshotZxid);
  assert.deepEqual(h.log.map((e) => e.zxid), A.slice(from).map((e) => e.zxid));
  assert.deepEqual(h.log.map((e) => e.data), A.slice(from).map((e) => e.data));
  const last = A.at(-1)!.zxid;
  // From any logged txn (also before the snapshot: the log still has it), across the epoch change.
  for (const i of [0, 2, 5, 7, 10]) {
    const diff = await store.diffAfter(A[i]!.zxid, last);
    assert.deepEqual(diff?.map((e) => e.zxid), A.slice(i + 1).map((e) => e.zxid), `after A[${i}]`);
  }
  // Zxid 0 is no longer this store's starting point: its history is the snapshot.
  assert.equal(await store.diffAfter(0n, A[2]!.zxid), null);
  assert.deepEqual(await store.diffAfter(last, last), []);
  // Not a zxid of ours (a divergent learner), past our end, or too large: null, the learner needs SNAP.
  assert.equal(await store.diffAfter(E(1n, 9n), last), null);
  assert.equal(await store.diffAfter(A[2]!.zxid, E(2n, 9n)), null);
  assert.equal(await store.diffAfter(A[2]!.zxid, last, 100), null);
  const entries: Zxid[] = [];
  for await (const e of store.readAfter(A[7]!.zxid)) entries.push(e.zxid);
  assert.deepEqual(entries, A.slice(8).map((e) => e.zxid));
  await store.close();
});

test('history: the newest txns from memory (bounded), the disk when memory does not reach back far enough', async () => {
  const disk = new MemoryDisk();
  const o = { ...opts(0), recentTxns: 3 };
  const first = await DiskQuorumStore.open(disk, { ...o, isAlive: () => false });
  const { store, state } = first;
  await store.setAcceptedEpoch(2n);
  await store.setCurrentEpoch(2n);
  await store.append(A.slice(0, 8));
  applyTo(state, A.slice(0, 8));
  const zxids = (h: { log: LogEntry[] }): Zxid[] => h.log.map((e) => e.zxid);
  // Held: 3 to 5 of the newest, with the zxid just before them.
  const recent = await store.history(A[7]!.zxid);
  assert.ok(recent.log.length >= 3 && recent.log.length < 6, `${recent.log.length} held`);
  assert.equal(recent.snapshotZxid, A[7 - recent.log.length]!.zxid);
  assert.deepEqual(zxids(recent), A.slice(8 - recent.log.length, 8).map((e) => e.zxid));
  // A tree further behind than memory reaches: the whole log after the snapshot, from disk.
  const all = await store.history(A[0]!.zxid);
  assert.equal(all.snapshotZxid, 0n);
  assert.deepEqual(zxids(all), A.slice(0, 8).map((e) => e.zxid));
  // A TRUNC: what is left, never a txn that was cut.
  await store.truncate(A[5]!.zxid);
  const cut = await store.history(A[5]!.zxid);
  assert.deepEqual(zxids(cut), A.slice(A.findIndex((e) => e.zxid > cut.snapshotZxid), 6).map((e) => e.zxid));
  await store.append(A.slice(6, 8));
  assert.deepEqual(zxids(await store.history(A[7]!.zxid)).at(-1), A[7]!.zxid);
  await store.close();
  // A restart holds the newest txns it replayed.
  const again = await DiskQuorumStore.open(disk, { ...o, isAlive: () => false });
  const reopened = await again.store.history(A[7]!.zxid);
  assert.ok(reopened.log.length >= 3 && reopened.log.length < 6);
  assert.deepEqual(zxids(reopened), A.slice(8 - reopened.log.length, 8).map((e) => e.zxid));
  assert.deepEqual(reopened.log.map((e) => e.data), A.slice(8 - reopened.log.length, 8).map((e) => e.data));
  await again.store.close();
});

test('crash at every point of a SNAP install: a restart has the old state (or a prefix of it) or the new one', async () => {
  const L = [...A.slice(0, 2), ...history('l', [[1n, 7]]).slice(2)];
  const snapAt = 5;
  const next = entry(E(3n, 1n), 'n', 99);
  const candidates = [...Array.from({ length: A.length + 1 }, (_, k) => A.slice(0, k)), L.slice(0, snapAt + 1), [...L.slice(0, snapAt + 1), next]];
  const seen = new Set<number>();
  const o = opts(0);
  const points = await forEachCrashPoint(
    () => diskWithA(o, [7]),
    (disk) =>
      withStore(disk, o, async (store) => {
        const leader = model(L.slice(0, snapAt + 1));
        await store.installSnapshot(L[snapAt]!.zxid, leader.tree, leader.sessions);
        await store.append([next]);
      }),
    async ({ disk, completed }) => {
      const { store, state } = await open(disk, o);
      const which = matchesOne(state, candidates);
      assert.ok(which >= 0, `state at 0x${state.tree.lastProcessedZxid.toString(16)} is none of the possible ones`);
      // Everything that survives was durable before: at least A up to the snapshot's zxid.
      if (which <= A.length) assert.ok(which >= snapAt + 1, `only ${which} txns of the old history left`);
      if (completed) assert.equal(which, candidates.length - 1);
      assert.deepEqual([state.acceptedEpoch, state.currentEpoch], [3n, 3n]);
      assert.equal(state.lastLoggedZxid, BigInt(state.tree.lastProcessedZxid));
      seen.add(which);
      await store.close();
    },
  );
  assert.ok(points > 10, `only ${points} crash points`);
  assert.ok(seen.has(A.length) && seen.has(candidates.length - 1) && seen.has(candidates.length - 2), `states seen: ${[...seen]}`);
});

/** A learner that installed a SNAP at A[8] from a leader that never established, then logged A[9], A[10]. */
async function afterUnestablishedSnap(o: { dataDir: string; preAllocSizeKb: number }): Promise<MemoryDisk> {
  const disk = new MemoryDisk();
  const { store } = await openAt(disk, o, 3n);
  const unestablished = model(A.slice(0, 9));
  await store.installSnapshot(A[8]!.zxid, unestablished.tree, unestablished.sessions);
  await store.append(A.slice(9));
  await store.close();
  return disk;
}

test('crash at every point of a SNAP install below the snapshot a restart starts from: the old state stays until the new one is durable', async () => {
  // The next leader's history ends at A[6]: it sends SNAP at A[6] after the learner asked for a full sync.
  const next = entry(E(3n, 1n), 'n', 97);
  const candidates = [...Array.from({ length: A.length + 1 }, (_, k) => A.slice(0, k)), [...A.slice(0, 7), next]];
  const seen = new Set<number>();
  const o = opts(0);
  const points = await forEachCrashPoint(
    () => afterUnestablishedSnap(o),
    (disk) =>
      withStore(disk, o, async (store) => {
        const leader = model(A.slice(0, 7));
        await store.installSnapshot(A[6]!.zxid, leader.tree, leader.sessions);
        await store.append([next]);
      }),
    async ({ disk, completed }) => {
      const { store, state } = await open(disk, o);
      const which = matchesOne(state, candidates);
      // Never less than the snapshot's state: the old snapshot (or the old state) until the new one replaces it.
      assert.ok(which >= 7, `state at 0x${state.tree.lastProcessedZxid.toString(16)} (${which}) is not a possible one`);
      if (completed) assert.equal(which, candidates.length - 1);
      assert.equal(state.lastLoggedZxid, BigInt(state.tree.lastProcessedZxid));
      seen.add(which);
      await store.close();
    },
  );
  assert.ok(points > 10, `only ${points} crash points`);
  assert.ok(seen.has(A.length) && seen.has(9) && seen.has(7) && seen.has(candidates.length - 1), `states seen: ${[...seen]}`);
});

test('crash at every point of a full sync by DIFF (reset): the old state, or the new one and a prefix of its uncommitted tail', async () => {
  // The leader's history: A up to A[6] (committed), then three proposals of epoch 3 not yet committed.
  const L = [...A.slice(0, 7), ...history('l', [[3n, 3]])];
  const committed = 7;
  const candidates = [...Array.from({ length: A.length + 1 }, (_, k) => A.slice(0, k)), ...Array.from({ length: 3 }, (_, k) => L.slice(0, committed + 1 + k))];
  const seen = new Set<number>();
  const o = opts(0);
  const points = await forEachCrashPoint(
    () => afterUnestablishedSnap(o),
    (disk) => withStore(disk, o, (store) => store.reset(L, committed)),
    async ({ disk, completed }) => {
      const { store, state } = await open(disk, o);
      const which = matchesOne(state, candidates);
      assert.ok(which >= 7, `state at 0x${state.tree.lastProcessedZxid.toString(16)} (${which}) is not a possible one`);
      if (completed) {
        assert.equal(which, candidates.length - 1);
        assert.equal(state.snapshotZxid, L[committed - 1]!.zxid);
      }
      seen.add(which);
      await store.close();
    },
    { tear: (_p, n) => Math.floor(n / 2) },
  );
  assert.ok(points > 10, `only ${points} crash points`);
  assert.ok(seen.has(A.length) && seen.has(9) && seen.has(7) && seen.has(candidates.length - 1), `states seen: ${[...seen]}`);
});

test('crash at every point of a truncation below a snapshot, then an append', async () => {
  const cut = 3;
  const next = entry(E(3n, 1n), 'n', 98);
  const candidates = [...Array.from({ length: A.length + 1 }, (_, k) => A.slice(0, k)), [...A.slice(0, cut + 1), next]];
  const o = opts(0);
  const points = await forEachCrashPoint(
    () => diskWithA(o, [2, 7]),
    (disk) =>
      withStore(disk, o, async (store) => {
        await store.truncate(A[cut]!.zxid);
        await store.append([next]);
      }),
    async ({ disk, completed }) => {
      const { store, state } = await open(disk, o);
      const which = matchesOne(state, candidates);
      assert.ok(which >= cut + 1, `state at 0x${state.tree.lastProcessedZxid.toString(16)} (${which}) is not a possible one`);
      if (completed) assert.equal(which, candidates.length - 1);
      await store.close();
    },
    { tear: (_p, n) => Math.floor(n / 2) },
  );
  assert.ok(points > 10, `only ${points} crash points`);
});

test('crash at every point of a learner\'s session: epochs, log and snapshot stay consistent', async () => {
  // Discovery (acceptedEpoch 2), a DIFF of epoch 1 txns logged at NEWLEADER, then currentEpoch 2,
  // broadcast proposals of epoch 2 with a snapshot between, then a TRUNC of the last ones.
  const diff = A.slice(0, 6);
  const proposals = A.slice(6);
  const o = opts(0);
  const points = await forEachCrashPoint(
    async () => {
      const disk = new MemoryDisk();
      const { store } = await openAt(disk, o, 1n);
      await store.append(diff.slice(0, 2));
      await store.close();
      return disk;
    },
    (disk) =>
      withStore(disk, o, async (store, state) => {
        await store.setAcceptedEpoch(2n);
        await store.append(diff.slice(2));
        await store.setCurrentEpoch(2n);
        await store.append(proposals.slice(0, 3));
        applyTo(state, [...diff.slice(2), ...proposals.slice(0, 3)]);
        await store.takeSnapshot(state.tree, state.sessions);
        await store.append(proposals.slice(3));
        await store.truncate(proposals[3]!.zxid);
      }),
    async ({ disk, completed }) => {
      const { store, state } = await open(disk, o);
      const logged = A.filter((e) => e.zxid <= state.lastLoggedZxid);
      // The tree is exactly the logged history, and the log a prefix of what was written.
      assertState(state, logged, `at 0x${state.lastLoggedZxid.toString(16)}`);
      assert.ok(logged.length >= 2);
      assert.ok(state.acceptedEpoch === 1n || state.acceptedEpoch === 2n);
      assert.ok(state.currentEpoch <= state.acceptedEpoch);
      // currentEpoch 2 is written after the whole DIFF is durable, and nothing of epoch 2 before it.
      if (state.currentEpoch === 2n) assert.ok(logged.length >= diff.length);
      if (logged.length > diff.length) assert.equal(state.currentEpoch, 2n);
      if (state.acceptedEpoch === 1n) assert.equal(logged.length, 2);
      if (completed) assertState(state, A.slice(0, 10));
      await store.close();
    },
    { tear: (_p, n) => n - 1 },
  );
  assert.ok(points > 20, `only ${points} crash points`);
});

/** A disk holding a learner at epoch 1 with A's txns 1-2 logged, that has accepted `acceptedEpoch` from a new leader. */
async function learnerAtEpoch1(o: ReturnType<typeof opts>, acceptedEpoch: bigint): Promise<MemoryDisk> {
  const disk = new MemoryDisk();
  const { store } = await openAt(disk, o, 1n);
  await store.append(A.slice(0, 2));
  await store.setAcceptedEpoch(acceptedEpoch);
  await store.close();
  return disk;
}

/**
 * A learner at epoch 1 (A's epoch-1 txns 1-2 logged) syncs with a leader of epoch 2: the DIFF
 * carries A's txns 3-6 (epoch 1) and 7-9 (epoch 2), logged at NEWLEADER, then currentEpoch 2.
 * Crashes at every point, with and without the updatingEpoch marker before the writes.
 */
async function crashInsideSync(marker: boolean): Promise<{ points: number; refused: number }> {
  const o = opts(0);
  const diff = A.slice(2, 9);
  let refused = 0;
  const points = await forEachCrashPoint(
    () => learnerAtEpoch1(o, 2n),
    (disk) =>
      withStore(disk, o, async (store) => {
        if (marker) await store.beginEpochUpdate();
        await store.append(diff);
        await store.setCurrentEpoch(2n);
      }),
    async ({ disk, completed }) => {
      let opened: Awaited<ReturnType<typeof open>>;
      try {
        opened = await open(disk, o);
      } catch (err) {
        assert.ok(err instanceof EpochFileError && /older than the epoch of the last zxid/.test(err.message), String(err));
        refused++;
        return;
      }
      const { store, state } = opened;
      const logged = A.filter((e) => e.zxid <= state.lastLoggedZxid);
      assertState(state, logged);
      assert.equal(state.acceptedEpoch, 2n);
      // Never behind the log's last epoch, never above acceptedEpoch.
      assert.ok(state.currentEpoch >= state.lastLoggedZxid >> 32n && state.currentEpoch <= state.acceptedEpoch, `currentEpoch ${state.currentEpoch} at 0x${state.lastLoggedZxid.toString(16)}`);
      if (completed) assert.equal(state.currentEpoch, 2n);
      assert.equal(await disk.stat(`${quorumStoreDirs(o).snapDir}/${UPDATING_EPOCH_FILE}`), null, 'no marker left after a start');
      await store.close();
    },
    { tear: (_p, n) => n - 1 },
  );
  return { points, refused };
}

test('crash at every point of a sync under the updatingEpoch marker: every restart starts, currentEpoch raised to the last zxid\'s epoch', async () => {
  const withMarker = await crashInsideSync(true);
  assert.equal(withMarker.refused, 0);
  assert.ok(withMarker.points > 10, `only ${withMarker.points} crash points`);
  // Without the marker the same crash points include starts refused: the window is real.
  const without = await crashInsideSync(false);
  assert.ok(without.refused > 0, 'no crash point left the log ahead of currentEpoch');
});

test('crash at every point of a SNAP of a newer epoch under the marker, before NEWLEADER writes currentEpoch', async () => {
  const o = opts(0);
  const L = history('l', [
    [1n, 2],
    [2n, 3],
  ]);
  const leader = model(L);
  const stream = writeZkSnapshotStream(leader.tree, leader.sessions);
  const zkSnap = readZkSnapshotBody(new JuteReader(stream, 0, stream.length, 0x7fffffff));
  const points = await forEachCrashPoint(
    () => learnerAtEpoch1(o, 3n),
    (disk) =>
      withStore(disk, o, async (store) => {
        await store.beginEpochUpdate();
        await store.installZkSnapshot(L.at(-1)!.zxid, zkSnap);
        await store.setCurrentEpoch(3n);
      }),
    async ({ disk, completed }) => {
      const { store, state } = await open(disk, o);
      const epochOfLast = state.lastLoggedZxid >> 32n;
      assert.ok(state.currentEpoch >= epochOfLast && state.currentEpoch <= 3n, `currentEpoch ${state.currentEpoch} at 0x${state.lastLoggedZxid.toString(16)}`);
      if (state.lastLoggedZxid === L.at(-1)!.zxid) assert.equal(treeDiff(state.tree, leader.tree), null);
      if (completed) assert.equal(state.currentEpoch, 3n);
      await store.close();
    },
    { tear: (_p, n) => n - 1 },
  );
  assert.ok(points > 5, `only ${points} crash points`);
});

test('appendThen (the broadcast path) and snapshotDue after snapCount txns', async () => {
  const disk = new MemoryDisk();
  const o = opts(0);
  const opened = await DiskQuorumStore.open(disk, { ...o, isAlive: () => false, snapCount: 4, random: () => 0.999 });
  const { store } = opened;
  await store.setAcceptedEpoch(2n);
  await store.setCurrentEpoch(2n);
  const done: number[] = [];
  await new Promise<void>((resolve, reject) => {
    for (const e of A.slice(0, 4)) {
      store.appendThen(Number(e.zxid), e.data, (err) => {
        if (err) return reject(err);
        done.push(Number(e.zxid));
        if (done.length === 4) resolve();
      });
    }
  });
  assert.deepEqual(done, A.slice(0, 4).map((e) => Number(e.zxid)));
  assert.equal(store.snapshotDue, true);
  applyTo(opened.state, A.slice(0, 4));
  const written = await store.takeSnapshot(opened.state.tree, opened.state.sessions);
  assert.equal(written.zxid, A[3]!.zxid);
  assert.equal(store.snapshotDue, false);
  assert.equal(store.snapshotZxid, A[3]!.zxid);
  await store.close();
});
