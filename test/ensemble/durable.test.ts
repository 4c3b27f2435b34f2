/**
 * Ensemble members keep their state in their data directories (DiskQuorumStore): kill -9 of
 * `paddock server zoo.cfg` processes, then restarts. A restarted follower starts from its disk
 * and is synced by DIFF; an ensemble killed as a whole comes back with every acknowledged write
 * and its epochs; a member whose log holds a txn the leader never had is sent TRUNC.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn } from '../../src/jute/txn.js';
import { NodeDisk } from '../../src/io/disk.js';
import { DiskQuorumStore } from '../../src/server/quorum/disk-store.js';
import { fourLetterWord } from '../support/zookeeper.js';
import { makeProcessEnsemble, settled, type ProcessEnsemble, type ProcessMember } from './processes.js';
import { assertAllHave, assertSameTree, assertServersAgree, assertTreesEqual, readTrees, Writer } from './writer.js';

const SESSION = { sessionTimeoutMs: 10_000 };

/** The sync mode of the member's last sync with a leader, from its log. */
function lastSyncMode(m: ProcessMember): string | null {
  for (let i = m.log.length - 1; i >= 0; i--) {
    const found = /synced with leader \d+ \((\w+)\)/.exec(m.log[i]!);
    if (found) return found[1]!;
  }
  return null;
}

/** What the member loaded from its data directory at its last start (the line it logs). */
function lastLoaded(m: ProcessMember): { snapshot: number; lastLogged: number; currentEpoch: number } | null {
  for (let i = m.log.length - 1; i >= 0; i--) {
    const found = /snapshot 0x([0-9a-f]+), last logged zxid 0x([0-9a-f]+), acceptedEpoch \d+, currentEpoch (\d+)/.exec(m.log[i]!);
    if (found) return { snapshot: parseInt(found[1]!, 16), lastLogged: parseInt(found[2]!, 16), currentEpoch: Number(found[3]) };
  }
  return null;
}

function snapshotFiles(e: ProcessEnsemble, id: number): string[] {
  return readdirSync(join(e.dir, `data${id}`, 'version-2')).filter((f) => f.startsWith('snapshot.'));
}

function epochFile(e: ProcessEnsemble, id: number, name: 'acceptedEpoch' | 'currentEpoch'): bigint {
  return BigInt(readFileSync(join(e.dir, `data${id}`, 'version-2', name), 'utf8'));
}

/** The zxid a member's srvr reports. */
async function servedZxid(m: ProcessMember): Promise<number> {
  const srvr = await fourLetterWord(m.clientPort, 'srvr');
  const found = /Zxid: 0x([0-9a-f]+)/.exec(srvr);
  assert.ok(found, `srvr of server ${m.id} has a Zxid line: ${srvr}`);
  return parseInt(found[1]!, 16);
}

/** One client on the ensemble writing under /w as `name`; closed when the test ends. */
async function startWriting(t: TestContext, e: ProcessEnsemble, name: string): Promise<Writer> {
  const client = await connect(e.connectString, SESSION);
  t.after(() => client.close());
  await client.create('/w', '');
  return new Writer(client, name);
}

/**
 * Kills a follower with kill -9 under the writes, starts it again and waits until it follows and
 * the writes went on; `whileDown` runs right after the kill. Stops the writer.
 */
async function restartAFollower(e: ProcessEnsemble, writer: Writer, whileDown: () => void = () => undefined): Promise<ProcessMember> {
  const follower = e.members.find((m) => m.mode === 'follower')!;
  await e.kill(follower.id);
  whileDown();
  await writer.waitFor(20, 30_000);
  e.start(follower.id);
  await e.waitFor('the follower back', 60_000, () => settled(e) && follower.mode === 'follower');
  await writer.waitFor(10, 30_000);
  await writer.stop();
  return follower;
}

async function startAll(e: ProcessEnsemble): Promise<void> {
  for (const m of e.members) e.start(m.id);
  await e.waitFor('three members settled', 60_000, () => settled(e) && e.members.every((m) => m.child !== null));
}

test('a follower killed with kill -9 restarts from its disk and is synced by DIFF', { timeout: 150_000 }, async (t) => {
  const e = await makeProcessEnsemble(3);
  t.after(() => e.close());
  await startAll(e);
  const writer = await startWriting(t, e, 'f');
  await writer.waitFor(40, 30_000);
  // The follower the client is not on, so the writes go on without a reconnect.
  const follower = await restartAFollower(e, writer);

  const loaded = lastLoaded(follower);
  assert.ok(loaded !== null && loaded.lastLogged > 0, `the restarted follower loaded its log from disk (${JSON.stringify(loaded)})`);
  assert.equal(lastSyncMode(follower), 'diff', 'a follower with its log is sent DIFF, not SNAP');
  await assertServersAgree(e.members.map((m) => m.clientPort), writer.acked);
  t.diagnostic(`server ${follower.id} restarted at zxid 0x${loaded!.lastLogged.toString(16)}, synced by DIFF; ${writer.acked.length} writes on 3 servers`);
});

test('the whole ensemble killed with kill -9 under writes comes back with every acknowledged write and its epochs; a divergent tail is TRUNCed', { timeout: 240_000 }, async (t) => {
  const e = await makeProcessEnsemble(3);
  t.after(() => e.close());
  await startAll(e);
  const clients: ZooKeeperClient[] = [];
  t.after(async () => {
    for (const c of clients) await c.close();
  });
  for (let i = 0; i < 2; i++) clients.push(await connect(e.connectString, SESSION));
  await clients[0]!.create('/w', '');
  const writers = clients.map((c, i) => new Writer(c, `a${i}`));
  await Promise.all(writers.map((w) => w.waitFor(30, 30_000)));
  const epochBefore = e.members.map((m) => epochFile(e, m.id, 'currentEpoch'));

  // Every member at once, writes in flight: only what was fsynced survives, and that holds every
  // acknowledged write (a quorum logged each before it was acknowledged).
  await Promise.all(e.members.map((m) => e.kill(m.id)));
  const ackedBeforeKill = writers.flatMap((w) => [...w.acked]);
  await startAll(e);
  await Promise.all(writers.map((w) => w.waitFor(5, 60_000)));
  for (const w of writers) await w.stop();
  for (const m of e.members) {
    const loaded = lastLoaded(m);
    assert.ok(loaded !== null && BigInt(loaded.currentEpoch) === epochBefore[m.id - 1], `server ${m.id} loaded its currentEpoch ${epochBefore[m.id - 1]} from disk (${JSON.stringify(loaded)})`);
    assert.ok(epochFile(e, m.id, 'currentEpoch') > epochBefore[m.id - 1]!, `server ${m.id} is in a newer epoch after the restart`);
  }
  let all = await readTrees(e.members.map((m) => m.clientPort));
  assertAllHave(all, ackedBeforeKill);
  assertAllHave(all, writers.flatMap((w) => w.acked));
  assertTreesEqual(all);
  t.diagnostic(`${ackedBeforeKill.length} writes acknowledged before the kill, all on 3 servers after the restart`);

  // A divergent tail: with every member at the same zxid, all are killed and server 3's log
  // gains a txn no one else has (an old leader's unreplicated proposal). Servers 1 and 2 form
  // the ensemble; server 3 joins it and is sent TRUNC.
  const zxids = await Promise.all(e.members.map((m) => servedZxid(m)));
  assert.ok(zxids.every((z) => z === zxids[0]), `members at one zxid before the kill: ${zxids.map((z) => z.toString(16)).join(' ')}`);
  await Promise.all(e.members.map((m) => e.kill(m.id)));
  const divergent = await appendDivergentTxn(join(e.dir, 'data3'), '/w/divergent');
  for (const id of [1, 2]) e.start(id);
  await e.waitFor('servers 1 and 2 settled', 60_000, () => e.members[0]!.child !== null && e.members[1]!.child !== null && settled(e));
  e.start(3);
  await e.waitFor('server 3 following', 60_000, () => settled(e) && e.members[2]!.mode === 'follower');
  assert.equal(lastLoaded(e.members[2]!)?.lastLogged, Number(divergent), 'server 3 started with the divergent txn logged');
  assert.equal(lastSyncMode(e.members[2]!), 'trunc', 'a member ahead of the leader is sent TRUNC');
  await clients[0]!.create('/w/after-trunc', '');
  all = await readTrees(e.members.map((m) => m.clientPort));
  for (const [i, tree] of all.entries()) assert.ok(!tree.has('/w/divergent'), `the divergent txn is gone on server ${i + 1}`);
  assertAllHave(all, ['/w/after-trunc', ...writers.flatMap((w) => w.acked)]);
  assertSameTree(all[0]!, all[2]!, 'servers 1 and 3 after TRUNC');
  t.diagnostic(`server 3 logged 0x${divergent.toString(16)} no one else had: TRUNCed, trees equal`);
});

/** Appends a create txn right after the last logged zxid of a (stopped) member's data directory. */
async function appendDivergentTxn(dataDir: string, path: string): Promise<bigint> {
  const { store } = await DiskQuorumStore.open(new NodeDisk(), { dataDir });
  try {
    const zxid = store.lastLoggedZxid + 1n;
    const data = encodeTxn({
      header: { sessionId: 0n, cxid: 0, zxid: Number(zxid), time: Date.now(), type: OpCode.create },
      body: { type: OpCode.create, path, data: null, acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: 0 },
    });
    await store.append([{ zxid, data }]);
    return zxid;
  } finally {
    await store.close();
  }
}

test('members take snapshots every snapCount txns; a follower killed with kill -9 restarts from its newest snapshot and log, and is DIFFed', { timeout: 150_000 }, async (t) => {
  const e = await makeProcessEnsemble(3, 200, ['snapCount=20']);
  t.after(() => e.close());
  await startAll(e);
  const writer = await startWriting(t, e, 's');
  await writer.waitFor(120, 60_000);
  const follower = await restartAFollower(e, writer, () => {
    for (const m of e.members) assert.ok(snapshotFiles(e, m.id).length > 1, `server ${m.id} took snapshots: ${snapshotFiles(e, m.id).join(' ')}`);
  });

  const loaded = lastLoaded(follower);
  assert.ok(loaded !== null && loaded.snapshot > 0 && loaded.lastLogged >= loaded.snapshot, `restarted from a snapshot taken while running (${JSON.stringify(loaded)})`);
  assert.equal(lastSyncMode(follower), 'diff');
  await assertServersAgree(e.members.map((m) => m.clientPort), writer.acked);
  t.diagnostic(`server ${follower.id} restarted from snapshot 0x${loaded!.snapshot.toString(16)} and its log to 0x${loaded!.lastLogged.toString(16)}; ${writer.acked.length} writes on 3 servers`);
});
