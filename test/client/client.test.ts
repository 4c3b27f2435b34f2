import assert from 'node:assert/strict';
import {
  AuthFailedError,
  BadVersionError,
  ClientClosedError,
  ConnectionLossError,
  ErrorCode,
  NoAuthError,
  NoNodeError,
  NodeExistsError,
  NotEmptyError,
  RequestTimeoutError,
  SessionExpiredError,
  TransactionError,
  Permission,
  digestId,
  connect,
  type SessionEvent,
  type StreamEvent,
  type WatchEvent,
} from '../../src/client/index.js';
import { forEachTarget, it } from './targets.js';
import { FaultProxy } from './proxy.js';
import { client, killSession, nextSessionEvent, uniquePath, within } from './helpers.js';

forEachTarget('client', ({ server }) => {
  it('creates, reads, updates and deletes with typed errors and bigint zxids', async () => {
    await using zk = await client(server().connectString);
    const p = uniquePath();
    assert.equal(await zk.create(p, 'hello'), p);
    const { data, stat } = await zk.getData(p);
    assert.equal(data.toString(), 'hello');
    assert.equal(typeof stat.czxid, 'bigint');
    assert.ok(stat.czxid > 0n);
    assert.equal(stat.version, 0);
    const st2 = await zk.setData(p, 'world', { version: 0 });
    assert.equal(st2.version, 1);
    assert.ok(st2.mzxid > stat.mzxid);
    await assert.rejects(zk.setData(p, 'x', { version: 0 }), BadVersionError);
    await assert.rejects(zk.create(p), (e) => e instanceof NodeExistsError && e.code === ErrorCode.NODEEXISTS && e.path === p);
    await zk.create(`${p}/child`);
    await assert.rejects(zk.delete(p), NotEmptyError);
    assert.deepEqual(await zk.getChildren(p), ['child']);
    const c2 = await zk.getChildren2(p);
    assert.equal(c2.stat.numChildren, 1);
    await zk.delete(`${p}/child`);
    await zk.delete(p, { version: 1 });
    assert.equal(await zk.exists(p), null);
    await assert.rejects(zk.getData(p), NoNodeError);
    assert.ok(zk.lastZxid >= st2.mzxid);
  });

  it('supports every create mode: sequential, ephemeral, container, TTL, create2', async () => {
    await using zk = await client(server().connectString);
    const p = uniquePath();
    const { path, stat } = await zk.create2(p, null);
    assert.equal(path, p);
    assert.equal(stat.version, 0);
    const s1 = await zk.create(`${p}/s-`, 'a', { mode: 'persistentSequential' });
    const s2 = await zk.create(`${p}/s-`, 'b', { mode: 'persistentSequential' });
    assert.match(s1, /\/s-\d{10}$/);
    assert.ok(s2 > s1);
    const e = await zk.create(`${p}/e`, null, { mode: 'ephemeral' });
    assert.equal((await zk.exists(e))?.ephemeralOwner, zk.sessionId);
    const es = await zk.create(`${p}/es-`, null, { mode: 'ephemeralSequential' });
    assert.match(es, /es-\d{10}$/);
    const c = await zk.create2(`${p}/container`, null, { mode: 'container' });
    assert.equal(c.stat.ephemeralOwner, 0n);
    const ttl = await zk.create2(`${p}/ttl`, 'x', { mode: 'persistentWithTtl', ttlMs: 60_000 });
    assert.equal(ttl.stat.ephemeralOwner, 0n);
    const ttlSeq = await zk.create(`${p}/ttls-`, 'x', { mode: 'persistentSequentialWithTtl', ttlMs: 60_000 });
    assert.match(ttlSeq, /ttls-\d{10}$/);
    await assert.rejects(zk.create(`${p}/bad`, null, { mode: 'persistentWithTtl' }), (err: any) => err.code === ErrorCode.BADARGUMENTS);
    assert.deepEqual((await zk.getEphemerals(p)).sort(), [e, es].sort());
    assert.equal(await zk.getAllChildrenNumber(p), 7);
  });

  it('commits multi transactions atomically and reports the failing op', async () => {
    await using zk = await client(server().connectString);
    const p = uniquePath();
    const results = await zk
      .transaction()
      .create(p, 'root')
      .create(`${p}/a`, 'a')
      .create(`${p}/seq-`, null, { mode: 'persistentSequential' })
      .setData(p, 'root2', 0)
      .check(`${p}/a`, 0)
      .commit();
    assert.equal(results.length, 5);
    assert.equal(results[0]?.type, 'create');
    assert.match((results[2] as { path: string }).path, /seq-\d{10}$/);
    assert.equal((results[3] as { stat: { version: number } }).stat.version, 1);
    const err = await zk
      .transaction()
      .create(`${p}/b`)
      .check(`${p}/a`, 7)
      .delete(`${p}/a`)
      .commit()
      .catch((e: unknown) => e);
    assert.ok(err instanceof TransactionError);
    assert.ok(err instanceof BadVersionError === false && err.code === ErrorCode.BADVERSION);
    assert.equal(err.failedIndex, 1);
    assert.deepEqual(err.codes, [0, ErrorCode.BADVERSION, ErrorCode.RUNTIMEINCONSISTENCY]);
    assert.equal(await zk.exists(`${p}/b`), null, 'nothing of a failed multi is applied');
    const reads = await zk.multiRead([
      { type: 'getData', path: p },
      { type: 'getChildren', path: p },
      { type: 'getData', path: `${p}/missing` },
    ]);
    assert.equal(reads[0]?.type === 'getData' && reads[0].data.toString(), 'root2');
    assert.equal(reads[1]?.type === 'getChildren' && reads[1].children.length, 2);
    assert.deepEqual(reads[2], { type: 'error', code: ErrorCode.NONODE, path: `${p}/missing` });
  });

  it('confines a chroot client to its subtree', async () => {
    await using root = await client(server().connectString);
    const base = uniquePath();
    await root.create(base);
    await using zk = await client(`${server().connectString}${base}`);
    assert.equal(zk.chroot, base);
    assert.equal(await zk.create('/x', 'in chroot'), '/x');
    assert.equal((await root.getData(`${base}/x`)).data.toString(), 'in chroot');
    const seq = await zk.create('/q-', null, { mode: 'persistentSequential' });
    assert.match(seq, /^\/q-\d{10}$/);
    assert.deepEqual((await zk.getChildren('/')).sort(), ['q-0000000001', 'x']);
    const [res] = await zk.transaction().create('/y').commit();
    assert.equal(res?.type === 'create' && res.path, '/y');
    const { changed } = await zk.existsAndWatch('/z');
    await root.create(`${base}/z`);
    assert.deepEqual(await within(changed, 10_000), { type: 'created', path: '/z' });
    await zk.create('/eph', null, { mode: 'ephemeral' });
    assert.deepEqual(await zk.getEphemerals(), ['/eph']);
  });

  it('fires one-shot data, exist and child watches once', async () => {
    await using zk = await client(server().connectString);
    await using other = await client(server().connectString);
    const p = uniquePath();
    const missing = await zk.existsAndWatch(p);
    assert.equal(missing.stat, null);
    await other.create(p, 'v0');
    assert.deepEqual(await within(missing.changed, 10_000), { type: 'created', path: p });
    const data = await zk.getDataAndWatch(p);
    const kids = await zk.getChildrenAndWatch(p);
    await other.setData(p, 'v1');
    assert.deepEqual(await within(data.changed, 10_000), { type: 'dataChanged', path: p });
    await other.create(`${p}/c`);
    assert.deepEqual(await within(kids.changed, 10_000), { type: 'childrenChanged', path: p });
    const events: WatchEvent[] = [];
    await zk.getData(p, { watch: (e) => events.push(e) });
    await zk.getData(p, { watch: (e) => events.push(e) });
    const last = await zk.existsAndWatch(p);
    await other.setData(p, 'v2');
    await within(last.changed, 10_000);
    assert.equal(events.length, 2, 'each callback fires once');
    await other.setData(p, 'v3');
    await other.sync(p);
    await zk.sync(p);
    assert.equal(events.length, 2, 'and only once');
  });

  it('streams persistent recursive watches as an async iterator', async () => {
    await using zk = await client(server().connectString);
    await using other = await client(server().connectString);
    const p = uniquePath();
    await other.create(p);
    const ac = new AbortController();
    const seen: StreamEvent[] = [];
    const consumer = (async () => {
      for await (const ev of zk.watch(p, { recursive: true, signal: ac.signal })) {
        seen.push(ev);
        if (ev.type === 'resync') {
          await other.create(`${p}/a`);
          await other.create(`${p}/a/b`, 'x');
          await other.setData(`${p}/a/b`, 'y');
          await other.delete(`${p}/a/b`);
        }
        if (ev.type === 'deleted') break;
      }
    })();
    await within(consumer, 10_000, 'recursive watch');
    assert.deepEqual(seen, [
      { type: 'resync', path: p, reason: 'initial' },
      { type: 'created', path: `${p}/a` },
      { type: 'created', path: `${p}/a/b` },
      { type: 'dataChanged', path: `${p}/a/b` },
      { type: 'deleted', path: `${p}/a/b` },
    ]);
    // A non-recursive persistent watch sees child list changes on its own node only.
    const events: StreamEvent[] = [];
    const gotTwo = new Promise<void>((resolve) => {
      void zk
        .addWatch(p, (e) => {
          events.push(e);
          if (events.length === 2) resolve();
        })
        .then(async (w) => {
          await other.create(`${p}/c`);
          await other.setData(p, 'z');
          await within(gotTwo, 10_000);
          await w.remove();
        });
    });
    await within(gotTwo, 10_000);
    assert.deepEqual(events, [
      { type: 'childrenChanged', path: p },
      { type: 'dataChanged', path: p },
    ]);
    ac.abort();
  });

  it('authenticates with digest, enforces ACLs and reports whoAmI', async () => {
    await using owner = await client(server().connectString, { auth: [{ scheme: 'digest', auth: 'alice:secret' }] });
    await using anon = await client(server().connectString);
    const p = uniquePath();
    await owner.create(p, 'private', { acl: [{ perms: Permission.ALL, id: digestId('alice', 'secret') }] });
    await assert.rejects(anon.getData(p), NoAuthError);
    assert.equal((await owner.getData(p)).data.toString(), 'private');
    assert.deepEqual(
      (await owner.whoAmI()).find((c) => c.scheme === 'digest'),
      { scheme: 'digest', user: 'alice' },
    );
    await anon.addAuth('digest', 'alice:secret');
    assert.equal((await anon.getData(p)).data.toString(), 'private');
    const { acl } = await owner.getACL(p);
    assert.deepEqual(acl, [{ perms: Permission.ALL, id: digestId('alice', 'secret') }]);
    // Refused credentials fail the call; the client reconnects without them and keeps working.
    await using bad = await client(server().connectString);
    const back = nextSessionEvent(bad, (e) => e.type === 'reconnected'); // the server closes the connection
    await assert.rejects(bad.addAuth('no-such-scheme', 'x'), AuthFailedError);
    await back;
    assert.ok((await bad.exists('/', { timeoutMs: 10_000 })) !== null);
  });

  it('skips dead hosts in a multi-host connect string', async () => {
    const dead = await FaultProxy.start(1);
    const deadPort = dead.port;
    await dead.close(); // nothing listens there any more
    const cs = `127.0.0.1:${deadPort},${server().connectString},127.0.0.1:${deadPort}`;
    await using zk = await client(cs, { connectTimeoutMs: 1000 });
    assert.equal(zk.hosts.length, 3);
    assert.equal(zk.currentHost?.port, server().port);
    assert.ok((await zk.exists('/')) !== null);
  });

  it('times out and aborts calls, and bounds connect()', async () => {
    const proxy = await FaultProxy.start(server().port);
    try {
      await using zk = await client(proxy.connectString, { sessionTimeoutMs: 4000 });
      proxy.setBlackhole(true);
      await assert.rejects(zk.getData('/', { timeoutMs: 100 }), RequestTimeoutError);
      const ac = new AbortController();
      const call = zk.exists('/', { signal: ac.signal });
      ac.abort(new Error('stop'));
      await assert.rejects(call, /stop/);
      await assert.rejects(
        connect(proxy.connectString, { initialConnectTimeoutMs: 300, connectTimeoutMs: 200 }),
        RequestTimeoutError,
      );
      proxy.setBlackhole(false);
    } finally {
      await proxy.close();
    }
  });

  it('survives dropped connections: suspended, reconnected, watches re-registered', async () => {
    const proxy = await FaultProxy.start(server().port);
    try {
      await using zk = await client(proxy.connectString, { sessionTimeoutMs: 4000 });
      await using other = await client(server().connectString);
      const p = uniquePath();
      await other.create(p, 'v0');
      const sessionId = zk.sessionId;
      const events: SessionEvent['type'][] = [];
      zk.onSession((e) => events.push(e.type));
      const watched = await zk.getDataAndWatch(p);
      const stream = zk.watch(p);
      assert.equal((await stream.next()).value?.type, 'resync');
      proxy.setBlackhole(true);
      const pending = zk.getData(p);
      const suspended = nextSessionEvent(zk, (e) => e.type === 'suspended');
      proxy.dropAll();
      await suspended;
      await assert.rejects(pending, ConnectionLossError);
      // Changed while we were away: setWatches must report it after the reconnect.
      await other.setData(p, 'v1');
      const queued = zk.getData(p); // waits for the connection
      const reconnected = nextSessionEvent(zk, (e) => e.type === 'reconnected');
      proxy.setBlackhole(false);
      proxy.dropAll(); // connections accepted during the partition lead nowhere
      await reconnected;
      assert.equal(zk.sessionId, sessionId);
      assert.equal((await queued).data.toString(), 'v1');
      assert.deepEqual(await within(watched.changed, 10_000), { type: 'dataChanged', path: p });
      assert.deepEqual((await within(stream.next(), 10_000)).value, { type: 'resync', path: p, reason: 'reconnected' });
      await other.setData(p, 'v2');
      assert.deepEqual((await within(stream.next(), 10_000)).value, { type: 'dataChanged', path: p });
      await stream.return?.();
      assert.deepEqual(events, ['suspended', 'reconnected']);
    } finally {
      await proxy.close();
    }
  });

  it('reports a server-side expiry and continues on a new session', async () => {
    await using zk = await client(server().connectString);
    await using other = await client(server().connectString);
    const p = uniquePath();
    await other.create(p);
    const eph = await zk.create(`${p}/eph`, null, { mode: 'ephemeral' });
    const oneShot = await zk.existsAndWatch(`${p}/never`);
    const stream = zk.watch(p, { recursive: true });
    assert.equal((await stream.next()).value?.type, 'resync');
    const old = zk.sessionId;
    const expired = nextSessionEvent(zk, (e) => e.type === 'expired');
    const connected = nextSessionEvent(zk, (e) => e.type === 'connected');
    await killSession(zk, server().connectString);
    assert.deepEqual(await expired, { type: 'expired', sessionId: old, detectedBy: 'server' });
    assert.deepEqual(await within(oneShot.changed, 5000), { type: 'lost', path: `${p}/never`, reason: 'expired' });
    const ev = await connected;
    assert.notEqual(zk.sessionId, old);
    assert.ok(ev.type === 'connected' && ev.sessionId === zk.sessionId);
    assert.equal(await other.exists(eph), null, 'ephemerals of the old session are gone');
    // The deletion happened before the watch came back; the stream says to resync.
    // (A 'reconnected' resync may come first: the victim can re-attach before the kill lands.)
    let next = await within(stream.next(), 10_000);
    while (next.value?.type === 'resync' && next.value.reason === 'reconnected') next = await within(stream.next(), 10_000);
    assert.deepEqual(next.value, { type: 'resync', path: p, reason: 'expired' });
    await other.create(`${p}/after`);
    assert.deepEqual((await within(stream.next(), 10_000)).value, { type: 'created', path: `${p}/after` });
    await stream.return?.();
  });

  it('detects expiry on the client side while cut off from every server', async () => {
    const proxy = await FaultProxy.start(server().port);
    try {
      await using zk = await client(proxy.connectString, { sessionTimeoutMs: 1000 });
      const timeout = zk.sessionTimeoutMs ?? 0;
      const old = zk.sessionId;
      const queuedFailure = (async () => {
        await nextSessionEvent(zk, (e) => e.type === 'suspended');
        return zk.exists('/').catch((e: unknown) => e);
      })();
      const started = Date.now();
      proxy.setBlackhole(true);
      proxy.dropAll();
      const expired = await nextSessionEvent(zk, (e) => e.type === 'expired', timeout * 5);
      assert.deepEqual(expired, { type: 'expired', sessionId: old, detectedBy: 'client' });
      assert.ok(Date.now() - started >= timeout * 0.5, 'not before the session timeout');
      assert.ok((await queuedFailure) instanceof SessionExpiredError);
      const connected = nextSessionEvent(zk, (e) => e.type === 'connected');
      proxy.setBlackhole(false);
      proxy.dropAll();
      await connected;
      assert.notEqual(zk.sessionId, old, 'never resumes a session it declared lost');
    } finally {
      await proxy.close();
    }
  });

  it('reconnects to a restarted server with the same session', async () => {
    const proxy = await FaultProxy.start(server().port);
    try {
      // A JVM restart under load can take seconds: ask for a session long enough to outlast it,
      // and leave the expiry decision to the server, which restores sessions with a fresh timeout.
      await using zk = await client(proxy.connectString, { sessionTimeoutMs: 20_000, clientSideExpiry: false });
      const p = uniquePath();
      await zk.create(p, 'durable');
      const eph = await zk.create(`${p}-eph`, null, { mode: 'ephemeral' });
      const sessionId = zk.sessionId;
      const suspended = nextSessionEvent(zk, (e) => e.type === 'suspended');
      await server().stop();
      proxy.dropAll();
      await suspended;
      const reconnected = nextSessionEvent(zk, (e) => e.type === 'reconnected' || e.type === 'expired', 30_000);
      await server().restart();
      proxy.setUpstream(server().port);
      const ev = await reconnected;
      assert.equal(ev.type, 'reconnected');
      assert.equal(zk.sessionId, sessionId);
      assert.equal((await zk.getData(p)).data.toString(), 'durable');
      assert.notEqual(await zk.exists(eph), null, 'the session and its ephemerals survived the restart');
    } finally {
      await proxy.close();
    }
  });

  it('closes: ephemerals vanish, calls reject, the stream ends', async () => {
    const zk = await client(server().connectString);
    await using other = await client(server().connectString);
    const p = uniquePath();
    const eph = await zk.create(p, null, { mode: 'ephemeral' });
    const events = zk.sessionEvents();
    const watch = await zk.existsAndWatch(`${p}-x`);
    await zk.close();
    assert.equal(await other.exists(eph), null);
    await assert.rejects(zk.exists('/'), ClientClosedError);
    assert.deepEqual(await watch.changed, { type: 'lost', path: `${p}-x`, reason: 'closed' });
    const seen: string[] = [];
    for await (const e of events) seen.push(e.type);
    assert.deepEqual(seen, ['closed']);
    assert.equal(zk.state, 'closed');
  });
});
