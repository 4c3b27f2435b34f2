/** The SNAP stream written by the leader driver reads back (as the learner reads it) into the same tree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JuteReader } from '../../src/jute/binary.js';
import { OpCode } from '../../src/jute/constants.js';
import { readZkSnapshotBody } from '../../src/persistence/zkformat.js';
import { treeFromZkSnapshot } from '../../src/server/quorum/learner-driver.js';
import { SNAP_SIGNATURE, writeZkSnapshotStream } from '../../src/server/quorum/zk-snapshot-stream.js';
import { DataTree } from '../../src/tree/datatree.js';
import { treeDiff } from '../../src/tree/equals.js';

test('writeZkSnapshotStream round-trips through readZkSnapshotBody: nodes, stats, ACLs, ephemerals, sessions', () => {
  const tree = new DataTree();
  const open = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
  const digest = [{ perms: 1, id: { scheme: 'digest', id: 'u:x' } }];
  let zxid = 0;
  const create = (path: string, data: string | null, acl = open, ephemeral = false): void => {
    zxid++;
    const parent = tree.getNode(path.slice(0, path.lastIndexOf('/')) || '/')!;
    tree.apply({
      header: { sessionId: 0x55n, cxid: zxid, zxid, time: 1000 + zxid, type: OpCode.create },
      body: { type: OpCode.create, path, data: data === null ? null : Buffer.from(data), acl, ephemeral, parentCVersion: parent.storedCversion + 1 },
    });
  };
  create('/a', 'A');
  create('/a/b', null, digest);
  create('/a/b/c', 'x'.repeat(300));
  create('/e', 'eph', open, true);
  const sessions = new Map([[0x55n, 4000]]);
  const bytes = writeZkSnapshotStream(tree, sessions);
  const r = new JuteReader(bytes, 0, bytes.length, 0x7fffffff);
  const snap = readZkSnapshotBody(r);
  assert.equal(r.string(), SNAP_SIGNATURE);
  assert.equal(r.remaining(), 0);
  assert.deepEqual(snap.sessions, sessions);
  const back = treeFromZkSnapshot(snap);
  back.lastProcessedZxid = tree.lastProcessedZxid;
  assert.equal(treeDiff(tree, back), null);
  assert.equal(back.getNode('/e')!.ephemeralOwner, 0x55n);
});
