/**
 * Migration from Apache ZooKeeper: fill a ZooKeeper 3.8 with a varied tree of 10k+ nodes, stop
 * it, import its data dir, start Paddock on the result, and compare the trees node by node
 * through the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDataCommand } from '../../src/cli/data.js';
import { NodeDisk } from '../../src/io/disk.js';
import { CreateMode, OpCode } from '../../src/jute/constants.js';
import type { ACL, Request } from '../../src/jute/index.js';
import { startServer } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { RawClient } from '../support/rawclient.js';
import { skipUnlessZooKeeper, startZooKeeper } from '../support/zookeeper.js';
import { create } from '../server/helpers.js';

const READ_ONLY: ACL[] = [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }];
const DIGEST: ACL[] = [{ perms: 31, id: { scheme: 'digest', id: 'bob:fyVmFCwVbTJYrznoSu1koqYEYF0=' } }];

async function inBatches(c: RawClient, reqs: Request[], size = 500): Promise<void> {
  for (let i = 0; i < reqs.length; i += size) await Promise.all(reqs.slice(i, i + size).map((r) => c.send(r)));
}

async function fill(c: RawClient): Promise<void> {
  await inBatches(c, ['/app', '/app/seq', '/app/acl', '/app/modes', '/bulk'].map((p) => create(p, p)));
  const bulk: Request[] = [];
  for (let i = 0; i < 100; i++) bulk.push(create(`/bulk/d${i}`, `dir ${i}`));
  await inBatches(c, bulk);
  const leaves: Request[] = [];
  for (let i = 0; i < 100; i++) for (let j = 0; j < 100; j++) leaves.push(create(`/bulk/d${i}/n${j}`, 'x'.repeat(j)));
  await inBatches(c, leaves);
  const seqs: Request[] = [];
  for (let i = 0; i < 50; i++) seqs.push(create('/app/seq/s-', `s${i}`, i % 2 ? CreateMode.PERSISTENT_SEQUENTIAL : CreateMode.EPHEMERAL_SEQUENTIAL));
  await inBatches(c, seqs);
  await c.send({ type: OpCode.delete, path: '/app/seq/s-0000000010', version: -1 });
  await c.send(create('/app/acl/ro', 'read only', CreateMode.PERSISTENT, READ_ONLY));
  await c.send(create('/app/acl/digest', 'bob only', CreateMode.PERSISTENT, DIGEST));
  await c.send({ type: OpCode.createContainer, path: '/app/modes/box', data: null, acl: READ_ONLY.map((a) => ({ ...a, perms: 31 })), flags: CreateMode.CONTAINER, ttl: -1 });
  await c.send(create('/app/modes/box/item'));
  await c.send({ type: OpCode.createTTL, path: '/app/modes/ttl', data: Buffer.from('t'), acl: DIGEST.map(() => READ_ONLY[0]!).map((a) => ({ ...a, perms: 31 })), flags: CreateMode.PERSISTENT_WITH_TTL, ttl: 3_600_000 });
  for (let v = 0; v < 5; v++) await c.send({ type: OpCode.setData, path: '/app', data: Buffer.from(`v${v}`), version: v });
  await c.send({ type: OpCode.setACL, path: '/app/acl', acl: READ_ONLY.map((a) => ({ ...a, perms: 31 })), version: 0 });
}

/** Every node's data, ACL and child list, walked through the wire. */
async function walk(c: RawClient): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  let level = ['/'];
  while (level.length > 0) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += 500) {
      const batch = level.slice(i, i + 500);
      await Promise.all(
        batch.map(async (p) => {
          const [data, acl, kids] = await Promise.all([
            c.send({ type: OpCode.getData, path: p, watch: false }),
            c.send({ type: OpCode.getACL, path: p }),
            c.send({ type: OpCode.getChildren, path: p, watch: false }),
          ]);
          // Children in the order the server lists them: the import keeps ZooKeeper's.
          const children = (kids.body as { children: string[] } | null)?.children ?? [];
          out.set(p, { data: data.body, acl: (acl.body as { acl: unknown } | null)?.acl ?? acl.header.err, children });
          for (const k of children) next.push(p === '/' ? `/${k}` : `${p}/${k}`);
        }),
      );
    }
    level = next;
  }
  return out;
}

test('a 10k-node ZooKeeper 3.8 data dir imports and serves the same tree from Paddock', { skip: skipUnlessZooKeeper(), timeout: 300_000 }, async (t) => {
  const zkDir = mkdtempSync(join(tmpdir(), 'zk-import-src-'));
  const outDir = mkdtempSync(join(tmpdir(), 'zk-import-out-'));
  t.after(() => {
    rmSync(zkDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });
  const zk = await startZooKeeper({ dataDir: zkDir, config: { snapCount: '3000' } });
  const c = await RawClient.connect('127.0.0.1', zk.port, { timeoutMs: 30_000 });
  await fill(c);
  const expected = await walk(c);
  assert.ok(expected.size > 10_000, `${expected.size} nodes`);
  await zk.stop();
  c.destroy();

  const status = await runDataCommand(['import-zookeeper', zkDir, outDir], { out: () => undefined, err: (s) => assert.fail(s), disk: new NodeDisk() });
  assert.equal(status, 0);
  const paddock = await startServer({ clientPort: 0, clientPortAddress: '127.0.0.1', dataDir: outDir, dataLogDir: outDir, extendedTypesEnabled: true }, { logger: silentLogger });
  try {
    const p = await RawClient.connect('127.0.0.1', paddock.port, { timeoutMs: 30_000 });
    const actual = await walk(p);
    assert.equal(actual.size, expected.size);
    for (const [path, want] of expected) assert.deepEqual(actual.get(path), want, path);
    const seq = await p.send(create('/app/seq/s-', '', CreateMode.PERSISTENT_SEQUENTIAL));
    assert.equal((seq.body as { path: string }).path, '/app/seq/s-0000000050', 'sequence counters carry over');
    await p.close();
  } finally {
    await paddock.close();
  }
});
