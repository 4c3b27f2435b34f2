/**
 * Import from a real Apache ZooKeeper 3.8 data dir: fill it through the Paddock client (part in
 * a snapshot, part only in the log), stop it with kill -9, import, and compare node by node with
 * what ZooKeeper itself reported just before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { runDataCommand } from '../../src/cli/data.js';
import { NodeDisk } from '../../src/io/disk.js';
import { loadNewestValidSnapshot } from '../../src/persistence/snapshots.js';
import { adler32, readZkLog, readZkSnapshot } from '../../src/persistence/zkformat.js';
import { deserializeSnapshot } from '../../src/tree/snapshot.js';
import { skipUnlessZooKeeper, startZooKeeper } from '../support/zookeeper.js';

test('adler32 matches known values', () => {
  assert.equal(adler32(Buffer.from('Wikipedia')), 0x11e60398);
  assert.equal(adler32(Buffer.alloc(0)), 1);
  const big = Buffer.alloc(100_000, 0xff);
  assert.equal(adler32(big.subarray(50_000), adler32(big.subarray(0, 50_000))), adler32(big));
});

interface Seen {
  data: Buffer;
  stat: Record<string, unknown>;
  acl: unknown;
}

async function walk(c: ZooKeeperClient): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  const stack = ['/'];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const { data, stat } = await c.getData(p);
    const { acl } = await c.getACL(p);
    out.set(p, {
      data,
      acl,
      stat: {
        czxid: Number(stat.czxid),
        mzxid: Number(stat.mzxid),
        pzxid: Number(stat.pzxid),
        ctime: stat.ctime,
        mtime: stat.mtime,
        version: stat.version,
        cversion: stat.cversion,
        aversion: stat.aversion,
        ephemeralOwner: stat.ephemeralOwner,
        numChildren: stat.numChildren,
        dataLength: stat.dataLength,
      },
    });
    for (const k of await c.getChildren(p)) stack.push(p === '/' ? `/${k}` : `${p}/${k}`);
  }
  return out;
}

test('import-zookeeper reproduces a ZooKeeper 3.8 tree node by node', { skip: skipUnlessZooKeeper(), timeout: 120_000 }, async (t) => {
  const zkDir = mkdtempSync(join(tmpdir(), 'zk-import-src-'));
  const outDir = mkdtempSync(join(tmpdir(), 'zk-import-out-'));
  t.after(() => {
    rmSync(zkDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });
  const readOnly = [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }];
  const zk1 = await startZooKeeper({ dataDir: zkDir });
  const c1 = await connect(zk1.connectString, { sessionTimeoutMs: 30000 });
  await c1.create('/app', 'root data');
  for (let i = 0; i < 5; i++) await c1.create('/app/seq-', `n${i}`, { mode: 'persistentSequential' });
  await c1.delete('/app/seq-0000000002');
  await c1.create('/app/eph1', 'mine', { mode: 'ephemeral' });
  await c1.create('/app/ro', Buffer.from([0, 1, 2, 255]), { acl: readOnly });
  await c1.setData('/app', 'v1');
  await c1.setData('/app', 'v2');
  await c1.create('/app/container', null, { mode: 'container' });
  await c1.create('/app/container/child', 'c');
  await c1.create('/app/ttl', 'ttl', { mode: 'persistentWithTtl', ttlMs: 3_600_000 });
  await zk1.stop(); // kill -9; c1's session and ephemeral stay in ZooKeeper's state
  void c1.close().catch(() => undefined);

  // The restart loads the log and writes a snapshot holding all of the above.
  const zk2 = await startZooKeeper({ dataDir: zkDir });
  const c2 = await connect(zk2.connectString, { sessionTimeoutMs: 30000 });
  await c2.create('/later', 'only in the log');
  await c2.create('/later/eph2', 'e', { mode: 'ephemeral' });
  await c2.multi([
    { type: 'create', path: '/later/m1', data: 'x' },
    { type: 'setData', path: '/later', data: 'after multi' },
  ]);
  await c2.setACL('/later/m1', readOnly);
  for (let i = 0; i < 3; i++) await c2.create('/app/seq-', `late${i}`, { mode: 'persistentSequential' });
  await c2.delete('/app/container/child');
  const expected = await walk(c2);
  await zk2.stop();
  void c2.close().catch(() => undefined);

  const v2 = join(zkDir, 'version-2');
  const names = readdirSync(v2);
  assert.ok(names.some((n) => n.startsWith('snapshot.') && n !== 'snapshot.0'), names.join(','));
  // The readers on their own: every snapshot seals, every log reads with checksums verified.
  for (const n of names.filter((x) => x.startsWith('snapshot.'))) readZkSnapshot(readFileSync(join(v2, n)));
  const logged = names.filter((x) => x.startsWith('log.')).flatMap((n) => readZkLog(readFileSync(join(v2, n))).records);
  assert.ok(logged.length >= 10);

  let out = '';
  let err = '';
  const status = await runDataCommand(['import-zookeeper', zkDir, outDir], {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    disk: new NodeDisk(),
  });
  assert.equal(status, 0, err);
  assert.match(out, /imported \d+ znodes and 2 sessions/);

  const { snapshot } = await loadNewestValidSnapshot(new NodeDisk(), join(outDir, 'version-2'));
  assert.ok(snapshot);
  const { tree, sessions } = deserializeSnapshot(snapshot.data);
  assert.equal(sessions.size, 2);
  const paths = new Set<string>();
  const stack = ['/'];
  while (stack.length > 0) {
    const p = stack.pop()!;
    paths.add(p);
    for (const k of tree.childrenOf(p)) stack.push(p === '/' ? `/${k}` : `${p}/${k}`);
  }
  assert.deepEqual([...paths].sort(), [...expected.keys()].sort());
  for (const [path, seen] of expected) {
    const node = tree.getNode(path)!;
    const st = tree.statOf(node);
    assert.deepEqual(Buffer.from(node.data ?? Buffer.alloc(0)), seen.data, `data of ${path}`);
    assert.deepEqual(node.acl, seen.acl, `acl of ${path}`);
    assert.deepEqual(
      {
        czxid: st.czxid,
        mzxid: st.mzxid,
        pzxid: st.pzxid,
        ctime: st.ctime,
        mtime: st.mtime,
        version: st.version,
        cversion: st.cversion,
        aversion: st.aversion,
        ephemeralOwner: st.ephemeralOwner,
        numChildren: st.numChildren,
        dataLength: st.dataLength,
      },
      seen.stat,
      `stat of ${path}`,
    );
  }
  // Importing again into the same directory is refused in one line.
  const again = await runDataCommand(['import-zookeeper', zkDir, outDir], { out: () => undefined, err: (s) => void (err = s), disk: new NodeDisk() });
  assert.equal(again, 1);
  assert.match(err, /already holds Paddock data/);
});
