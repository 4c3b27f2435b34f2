import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateMode, Err, EventType, OpCode } from '../../src/jute/constants.js';
import type { Stat } from '../../src/jute/records.js';
import { PipelineHarness } from '../support/pipeline-harness.js';
import { withTimeout } from '../support/rawclient.js';
import { create, OPEN } from './helpers.js';

// The pipeline without sockets: fake links, a fake clock, MemoryDisk. TCP-level behaviour
// (framing, limits, four-letter words, zero-copy output) is in network.test.ts.

test('create, read, set and delete with ZooKeeper Stat semantics', async () => {
  await PipelineHarness.with({}, async (h) => {
    const c = await h.open();
    const created = await c.send({ type: OpCode.create2, path: '/a', data: Buffer.from('x'), acl: OPEN, flags: 0, ttl: -1 });
    assert.equal(created.header.err, Err.OK);
    const stat = (created.body as { stat: Stat }).stat;
    assert.equal(stat.czxid, created.header.zxid);
    assert.equal(stat.version, 0);
    await c.send(create('/a/b'));
    await c.send({ type: OpCode.delete, path: '/a/b', version: -1 });
    const parent = await c.send({ type: OpCode.exists, path: '/a', watch: false });
    const ps = (parent.body as { stat: Stat }).stat;
    assert.equal(ps.cversion, 2, 'cversion counts the child create and the delete');
    assert.equal(ps.numChildren, 0);
    const badVersion = await c.send({ type: OpCode.setData, path: '/a', data: Buffer.from('y'), version: 7 });
    assert.equal(badVersion.header.err, Err.BADVERSION);
    assert.equal(badVersion.body, null);
    const set = await c.send({ type: OpCode.setData, path: '/a', data: Buffer.from('y'), version: 0 });
    assert.equal((set.body as { stat: Stat }).stat.version, 1);
    const got = await c.send({ type: OpCode.getData, path: '/a', watch: false });
    assert.equal((got.body as { data: Buffer }).data.toString(), 'y');
    const exists = await c.send(create('/a'));
    assert.equal(exists.header.err, Err.NODEEXISTS);
    await c.closeSession();
  });
});

test('a failed write still takes a zxid, as in ZooKeeper', async () => {
  await PipelineHarness.with({}, async (h) => {
    const c = await h.open();
    const first = await c.send(create('/z'));
    const failed = await c.send(create('/z'));
    const next = await c.send(create('/z2'));
    assert.equal(failed.header.err, Err.NODEEXISTS);
    assert.equal(failed.header.zxid, first.header.zxid + 1);
    assert.equal(next.header.zxid, first.header.zxid + 2);
    await c.closeSession();
  });
});

test('pipelined requests are answered in order and a read sees its own session\'s earlier write', async () => {
  await PipelineHarness.with({}, async (h) => {
    const c = await h.open();
    const replies = await Promise.all([
      c.send(create('/p', 'v1')),
      c.send({ type: OpCode.getData, path: '/p', watch: false }),
      c.send({ type: OpCode.setData, path: '/p', data: Buffer.from('v2'), version: -1 }),
      c.send({ type: OpCode.getData, path: '/p', watch: false }),
    ]);
    assert.deepEqual(replies.map((r) => r.header.err), [0, 0, 0, 0]);
    assert.equal((replies[1]!.body as { data: Buffer }).data.toString(), 'v1');
    assert.equal((replies[3]!.body as { data: Buffer }).data.toString(), 'v2');
    await c.closeSession();
  });
});

test('sequential names come from the parent cversion and ephemerals go with their session', async () => {
  await PipelineHarness.with({}, async (h) => {
    const a = await h.open();
    const b = await h.open();
    await a.send(create('/q'));
    const s1 = await a.send(create('/q/n-', '', CreateMode.EPHEMERAL_SEQUENTIAL));
    const s2 = await a.send(create('/q/n-', '', CreateMode.PERSISTENT_SEQUENTIAL));
    assert.equal((s1.body as { path: string }).path, '/q/n-0000000000');
    assert.equal((s2.body as { path: string }).path, '/q/n-0000000001');
    const eph = await a.send({ type: OpCode.getEphemerals, path: '/' });
    assert.deepEqual((eph.body as { ephemerals: string[] }).ephemerals, ['/q/n-0000000000']);
    await b.send({ type: OpCode.exists, path: '/q/n-0000000000', watch: true });
    await a.closeSession();
    const ev = await b.waitForEvent((e) => e.path === '/q/n-0000000000');
    assert.equal(ev.type, EventType.NodeDeleted);
    const gone = await b.send({ type: OpCode.exists, path: '/q/n-0000000000', watch: false });
    assert.equal(gone.header.err, Err.NONODE);
    await b.closeSession();
  });
});

test('a session expires after its timeout when its client goes silent', async () => {
  await PipelineHarness.with({ tickTime: 50, minSessionTimeout: 200, maxSessionTimeout: 400 }, async (h) => {
    const watcher = await h.open();
    const doomed = await h.open({ timeoutMs: 200 });
    assert.equal(doomed.session.timeOut, 200);
    await doomed.send(create('/e', '', CreateMode.EPHEMERAL));
    await watcher.send({ type: OpCode.exists, path: '/e', watch: true });
    // The doomed client never pings: only expiry can delete its node. The clock is fake, so
    // the session lives exactly until its timeout, however loaded the machine is.
    await h.advance(150);
    assert.equal(watcher.events.length, 0, 'not expired before its timeout');
    assert.equal(doomed.closeReason, null);
    await watcher.send({ type: OpCode.ping }); // the watcher keeps its own session alive
    await h.advance(200);
    const ev = await watcher.waitForEvent((e) => e.path === '/e', 5000);
    assert.equal(ev.type, EventType.NodeDeleted);
    await doomed.closed;
    await assert.rejects(
      h.open({ sessionId: doomed.sessionId, passwd: doomed.session.passwd ?? undefined }),
      /expired/,
      'an expired session is refused with timeOut 0',
    );
    await watcher.closeSession();
  });
});

test('a client reconnects to its session with id and password; a wrong password is refused', async () => {
  await PipelineHarness.with({}, async (h) => {
    const first = await h.open();
    await first.send(create('/r', '', CreateMode.EPHEMERAL));
    first.drop();
    const again = await h.open({ sessionId: first.sessionId, passwd: first.session.passwd ?? undefined });
    assert.equal(again.sessionId, first.sessionId);
    const eph = await again.send({ type: OpCode.exists, path: '/r', watch: false });
    assert.equal(eph.header.err, Err.OK);
    await assert.rejects(h.open({ sessionId: first.sessionId, passwd: Buffer.alloc(16, 7) }), /expired/);
    await again.closeSession();
  });
});

test('a client that has seen a newer zxid than the server is refused', async () => {
  await PipelineHarness.with({}, async (h) => {
    await assert.rejects(h.open({ lastZxidSeen: 1000 }), /closed before the session opened/);
  });
});

test('digest auth, ACL checks and masked getACL', async () => {
  await PipelineHarness.with({}, async (h) => {
    const owner = await h.open();
    const stranger = await h.open();
    const auth = await owner.send({ type: OpCode.auth, authType: 0, scheme: 'digest', auth: Buffer.from('bob:secret') });
    assert.equal(auth.header.err, Err.OK);
    const created = await owner.send(create('/secret', 'x', CreateMode.PERSISTENT, [{ perms: 31, id: { scheme: 'auth', id: '' } }]));
    assert.equal(created.header.err, Err.OK);
    const denied = await stranger.send({ type: OpCode.getData, path: '/secret', watch: false });
    assert.equal(denied.header.err, Err.NOAUTH);
    const acl = await owner.send({ type: OpCode.getACL, path: '/secret' });
    assert.equal((acl.body as { acl: { id: { id: string } }[] }).acl[0]!.id.id, 'bob:fyVmFCwVbTJYrznoSu1koqYEYF0=');
    const who = await owner.send({ type: OpCode.whoAmI });
    // ZooKeeper's order, that of its per-connection ConcurrentHashMap key set: here digest first.
    assert.deepEqual((who.body as { clientInfo: unknown[] }).clientInfo, [
      { authScheme: 'digest', user: 'bob' },
      { authScheme: 'ip', user: '127.0.0.1' },
    ]);
    const invalid = await stranger.send(create('/bad', '', CreateMode.PERSISTENT, [{ perms: 31, id: { scheme: 'auth', id: '' } }]));
    assert.equal(invalid.header.err, Err.INVALIDACL);
    const badAuth = await stranger.send({ type: OpCode.auth, authType: 0, scheme: 'nosuch', auth: Buffer.from('x') });
    assert.equal(badAuth.header.err, Err.AUTHFAILED);
    await stranger.closed;
    await owner.closeSession();
  });
});

test('a watch event reaches the client before the reply to its next request', async () => {
  await PipelineHarness.with({}, async (h) => {
    const w = await h.open();
    const writer = await h.open();
    await w.send(create('/w'));
    await w.send({ type: OpCode.getData, path: '/w', watch: true });
    await writer.send({ type: OpCode.setData, path: '/w', data: Buffer.from('1'), version: -1 });
    const ping = await w.send({ type: OpCode.exists, path: '/w', watch: false });
    const eventAt = w.transcript.findIndex((e) => e.kind === 'event');
    const replyAt = w.transcript.findIndex((e) => e.kind === 'reply' && e.header.xid === ping.header.xid);
    assert.ok(eventAt >= 0 && eventAt < replyAt, 'event precedes the later reply');
    await w.closeSession();
    await writer.closeSession();
  });
});

test('multi is all or nothing: a failed op fails the rest and changes nothing', async () => {
  await PipelineHarness.with({}, async (h) => {
    const c = await h.open();
    const r = await c.send({
      type: OpCode.multi,
      ops: [create('/m1'), { type: OpCode.delete, path: '/nope', version: -1 }, create('/m2')],
    });
    assert.equal(r.header.err, Err.OK);
    const results = r.body as { err: number }[];
    assert.deepEqual(results.map((x) => x.err), [0, Err.NONODE, Err.RUNTIMEINCONSISTENCY]);
    const m1 = await c.send({ type: OpCode.exists, path: '/m1', watch: false });
    assert.equal(m1.header.err, Err.NONODE);
    await c.closeSession();
  });
});

test('setWatches re-registers watches and fires those that missed a change', async () => {
  await PipelineHarness.with({}, async (h) => {
    const c = await h.open();
    await c.send(create('/sw'));
    await c.send(create('/sw/kid'));
    const seen = await c.send({ type: OpCode.exists, path: '/sw', watch: false });
    await c.send({ type: OpCode.setData, path: '/sw', data: Buffer.from('changed'), version: -1 });
    await c.send(create('/sw/later'));
    await c.send(create('/now'));
    const rel = seen.header.zxid;
    const reply = await c.send({
      type: OpCode.setWatches2,
      relativeZxid: rel,
      dataWatches: ['/sw', '/sw/kid', '/gone'],
      existWatches: ['/now', '/notyet'],
      childWatches: ['/sw'],
      persistentWatches: [],
      persistentRecursiveWatches: ['/rec'],
    });
    assert.equal(reply.header.err, Err.OK);
    const got = c.events.map((e) => `${e.event.type} ${e.event.path}`).sort();
    assert.deepEqual(got, [
      `${EventType.NodeCreated} /now`,
      `${EventType.NodeDeleted} /gone`,
      `${EventType.NodeDataChanged} /sw`,
      `${EventType.NodeChildrenChanged} /sw`,
    ].sort());
    // The unchanged ones were registered: a change now fires them.
    await c.send({ type: OpCode.setData, path: '/sw/kid', data: Buffer.from('x'), version: -1 });
    await c.send(create('/notyet'));
    await c.send(create('/rec'));
    await c.waitForEvent((e) => e.path === '/sw/kid' && e.type === EventType.NodeDataChanged);
    await c.waitForEvent((e) => e.path === '/notyet' && e.type === EventType.NodeCreated);
    await c.waitForEvent((e) => e.path === '/rec' && e.type === EventType.NodeCreated);
    await c.closeSession();
  });
});

test('OPEN acl constant is world:anyone ALL', () => {
  assert.deepEqual(OPEN, [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }]);
});

test('getChildren of a large node stays exact across creates and deletes (cached encoding)', async () => {
  await PipelineHarness.with({}, async (h) => {
    const c = await h.open();
    await c.send(create('/many'));
    const names = Array.from({ length: 150 }, (_, i) => `child-${i}`);
    await Promise.all(names.map((n) => c.send(create(`/many/${n}`))));
    const list = async (type: typeof OpCode.getChildren | typeof OpCode.getChildren2) => {
      const r = await c.send({ type, path: '/many', watch: false });
      assert.equal(r.header.err, Err.OK);
      return r.body as { children: string[]; stat?: Stat };
    };
    assert.deepEqual((await list(OpCode.getChildren)).children.sort(), [...names].sort());
    assert.deepEqual((await list(OpCode.getChildren)).children.sort(), [...names].sort(), 'served again from the cache');
    await c.send({ type: OpCode.delete, path: '/many/child-7', version: -1 });
    await c.send(create('/many/late'));
    const two = await list(OpCode.getChildren2);
    const expected = names.filter((n) => n !== 'child-7').concat('late').sort();
    assert.deepEqual(two.children.sort(), expected);
    assert.equal(two.stat!.numChildren, expected.length);
    assert.equal(two.stat!.cversion, 152);
    await c.closeSession();
  });
});

test('events fanned out to many connections each carry their own type and path', async () => {
  await PipelineHarness.with({}, async (h) => {
    const writer = await h.open();
    await writer.send(create('/fan'));
    await writer.send(create('/fan/a'));
    const watchers = await Promise.all([1, 2, 3].map(() => h.open()));
    for (const w of watchers) {
      await w.send({ type: OpCode.getData, path: '/fan/a', watch: true });
      await w.send({ type: OpCode.getChildren, path: '/fan', watch: true });
    }
    // One delete fires NodeDeleted on /fan/a and NodeChildrenChanged on /fan to every watcher.
    await writer.send({ type: OpCode.delete, path: '/fan/a', version: -1 });
    for (const w of watchers) {
      const deleted = await w.waitForEvent((e) => e.path === '/fan/a');
      const changed = await w.waitForEvent((e) => e.path === '/fan');
      assert.equal(deleted.type, EventType.NodeDeleted);
      assert.equal(changed.type, EventType.NodeChildrenChanged);
    }
    await Promise.all([writer, ...watchers].map((c) => c.closeSession()));
  });
});


test('writes behind a read go to the log at once, and the read runs before they apply even for a backed-up client', async () => {
  await PipelineHarness.with({}, async (h) => {
    const c = await h.open();
    const other = await h.open();
    await c.send(create('/batch', 'v'));
    c.stalled = true;
    const set = (value: string) => ({ type: OpCode.setData, path: '/batch', data: Buffer.from(value), version: -1 }) as const;
    // The second write starts while the first is in flight (one log batch), not after the read.
    const replies = Promise.all([c.send(set('a')), c.send({ type: OpCode.getData, path: '/batch', watch: false }), c.send(set('b'))]);
    const [a, r, b] = await withTimeout(replies, 5000, 'replies while the client is backed up');
    assert.deepEqual([a.header.err, r.header.err, b.header.err], [Err.OK, Err.OK, Err.OK]);
    assert.equal((r.body as { data: Buffer }).data.toString(), 'a', 'the read sees the write before it, not the one after');
    assert.equal(b.header.zxid, a.header.zxid + 1);
    assert.equal(r.header.zxid, a.header.zxid, 'the read ran when the first write had applied');
    assert.equal((await other.send({ type: OpCode.getData, path: '/batch', watch: false }) as { body: { data: Buffer } }).body.data.toString(), 'b');
    c.resume();
    await c.closeSession();
    await other.closeSession();
  });
});

test('a backed-up client\'s reads wait, holding later replies, and resume in order when it drains', async () => {
  await PipelineHarness.with({}, async (h) => {
    const c = await h.open();
    const other = await h.open();
    await c.send(create('/held', 'v'));
    const answered = c.transcript.length;
    c.stalled = true;
    const read = c.send({ type: OpCode.getData, path: '/held', watch: false });
    const write = c.send({ type: OpCode.setData, path: '/held', data: Buffer.from('w'), version: -1 });
    // Other sessions go on meanwhile.
    assert.equal((await other.send(create('/later'))).header.err, Err.OK);
    assert.equal(c.transcript.length, answered, 'nothing is answered while the client is backed up');
    assert.equal(h.server.outstandingRequests(), 2);
    c.resume();
    const [r, w] = await Promise.all([read, write]);
    assert.deepEqual([r.header.err, w.header.err], [Err.OK, Err.OK]);
    // The read was sent before the write: it must not see it, however long it waited.
    assert.equal((r.body as { data: Buffer }).data.toString(), 'v');
    assert.equal((await other.send({ type: OpCode.getData, path: '/held', watch: false }) as { body: { data: Buffer } }).body.data.toString(), 'w');
    const order = c.transcript.slice(answered).map((e) => (e.kind === 'reply' ? e.xid : -1));
    assert.deepEqual(order, [r.header.xid, w.header.xid], 'the held read answers first, then the write behind it');
    await c.closeSession();
    await other.closeSession();
  });
});
