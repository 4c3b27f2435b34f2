/** The console's JSON API against a real Paddock: tree paging, edits with versions, the feed, logins. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { digestId } from '../../src/acl/index.js';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { Perm } from '../../src/jute/constants.js';
import { api, b64, startLoginConsole, startPaddockWithConsole } from './support.js';

async function createChildren(client: ZooKeeperClient, parent: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const batch: Promise<string>[] = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) batch.push(client.create(`${parent}/c${String(i).padStart(6, '0')}`));
    await Promise.all(batch);
  }
}

test('children are paged, sorted and filtered, and a big node stays fast', async () => {
  const p = await startPaddockWithConsole();
  const client = await connect(p.connectString);
  try {
    await client.create('/big');
    await createChildren(client, '/big', 20_000);
    const first = await api(p.base, 'children', { query: { path: '/big', limit: '100' } });
    assert.equal(first.status, 200);
    assert.equal(first.body.total, 20_000);
    const names = (first.body.children as { name: string }[]).map((c) => c.name);
    assert.equal(names.length, 100);
    assert.equal(names[0], 'c000000');
    assert.deepEqual(names, [...names].sort());
    const started = performance.now();
    const later = await api(p.base, 'children', { query: { path: '/big', offset: '19950', limit: '100' } });
    assert.ok(performance.now() - started < 2000, 'a later page of a cached listing answers quickly');
    assert.equal((later.body.children as unknown[]).length, 50);
    assert.equal((later.body.children as { name: string }[])[49]!.name, 'c019999');
    const filtered = await api(p.base, 'children', { query: { path: '/big', filter: 'c01234' } });
    assert.equal(filtered.body.total, 10);
    assert.equal((await api(p.base, 'children', { query: { path: '/big', limit: '5000' } })).status, 400);
    assert.equal((await api(p.base, 'children', { query: { path: '/nope' } })).body.error, 'NONODE');
    assert.equal((await api(p.base, 'children', { query: { path: 'relative' } })).body.error, 'BADARGUMENTS');
  } finally {
    await client.close();
    await p.stop();
  }
});

test('an edit carries the version read; a concurrent change is a BADVERSION conflict, not an overwrite', async () => {
  const p = await startPaddockWithConsole();
  const client = await connect(p.connectString);
  try {
    await client.create('/cfg', 'v0');
    const read = await api(p.base, 'node', { query: { path: '/cfg' } });
    assert.equal(Buffer.from(read.body.data as string, 'base64').toString(), 'v0');
    const version = (read.body.stat as { version: number }).version;
    assert.deepEqual(read.body.acl, [{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }]);

    const saved = await api(p.base, 'set', { body: { path: '/cfg', data: b64('v1'), version } });
    assert.equal(saved.status, 200);
    assert.equal((await client.getData('/cfg')).data.toString(), 'v1');

    await client.setData('/cfg', 'from-a-client');
    const stale = await api(p.base, 'set', { body: { path: '/cfg', data: b64('v2'), version: version + 1 } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error, 'BADVERSION');
    assert.equal(stale.body.currentVersion, version + 2);
    assert.equal((await client.getData('/cfg')).data.toString(), 'from-a-client', 'the stale edit wrote nothing');

    assert.equal((await api(p.base, 'set', { body: { path: '/cfg', data: '%%', version: 0 } })).status, 400);
    assert.equal((await api(p.base, 'set', { body: { path: '/cfg', data: b64('x') } })).status, 400, 'the version is required');
  } finally {
    await client.close();
    await p.stop();
  }
});

test('create, then delete: one node at its version, or a subtree when asked', async () => {
  const p = await startPaddockWithConsole();
  const client = await connect(p.connectString);
  try {
    const made = await api(p.base, 'create', { body: { path: '/jobs', data: b64('x') } });
    assert.deepEqual(made.body, { path: '/jobs' });
    const seq = await api(p.base, 'create', { body: { path: '/jobs/j-', mode: 'persistentSequential' } });
    assert.equal(seq.body.path, '/jobs/j-0000000000');
    assert.equal((await api(p.base, 'create', { body: { path: '/jobs', data: '' } })).body.error, 'NODEEXISTS');
    assert.equal((await api(p.base, 'create', { body: { path: '/e', mode: 'ephemeral' } })).status, 400);
    await createChildren(client, '/jobs/j-0000000000', 1200);
    assert.equal((await api(p.base, 'descendants', { query: { path: '/jobs' } })).body.descendants, 1201);
    assert.equal((await api(p.base, 'delete', { body: { path: '/jobs', version: 0 } })).body.error, 'NOTEMPTY');
    const gone = await api(p.base, 'delete', { body: { path: '/jobs', recursive: true } });
    assert.deepEqual(gone.body, { path: '/jobs', deleted: 1202 });
    assert.equal(await client.exists('/jobs'), null);

    await client.create('/one', 'a');
    await client.setData('/one', 'b');
    assert.equal((await api(p.base, 'delete', { body: { path: '/one', version: 0 } })).body.error, 'BADVERSION');
    assert.equal((await api(p.base, 'delete', { body: { path: '/one', version: 1 } })).body.deleted, 1);
    assert.equal((await api(p.base, 'delete', { body: { path: '/', recursive: true } })).status, 400);
  } finally {
    await client.close();
    await p.stop();
  }
});

test('sessions show their ephemerals and watches; server info and chart samples', async () => {
  const p = await startPaddockWithConsole();
  const client = await connect(p.connectString);
  try {
    await client.create('/lock', null, { mode: 'ephemeral' });
    await client.getData('/lock', { watch: () => undefined });
    const sessions = (await api(p.base, 'sessions')).body.sessions as { id: string; ephemerals: string[]; watches: number; console: boolean }[];
    const mine = sessions.find((s) => s.id === `0x${client.sessionId!.toString(16)}`)!;
    assert.deepEqual(mine.ephemerals, ['/lock']);
    assert.equal(mine.watches, 1);
    assert.equal(sessions.filter((s) => s.console).length, 1, 'the console\'s own session is marked');
    const watches = (await api(p.base, 'watches')).body;
    assert.deepEqual(watches.byPath, [{ path: '/lock', sessions: [mine.id] }]);
    const info = (await api(p.base, 'info')).body;
    assert.equal(info.mode, 'standalone');
    assert.deepEqual((info.members as { role: string }[]).map((m) => m.role), ['standalone']);
    assert.equal(info.requireLogin, false);
    const stats = (await api(p.base, 'stats')).body;
    assert.equal(stats.intervalMs, 1000);
    assert.ok(Array.isArray(stats.samples));
  } finally {
    await client.close();
    await p.stop();
  }
});

test('the live feed streams a client\'s writes under a path as server-sent events', async () => {
  const p = await startPaddockWithConsole();
  const client = await connect(p.connectString);
  const abort = new AbortController();
  try {
    await client.create('/app');
    const res = await fetch(`${p.base}/console/api/feed?path=/app`, { signal: abort.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    let text = '';
    const until = async (needle: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!text.includes(needle)) {
        assert.ok(Date.now() < deadline, `no ${needle} in ${text}`);
        const { value, done } = await reader.read();
        assert.ok(!done, 'the stream ended');
        text += Buffer.from(value).toString();
      }
    };
    await until('event: ready');
    await client.create('/app/a', 'x');
    await client.setData('/app/a', 'y');
    await client.create('/outside');
    await until('"type":"dataChanged","path":"/app/a"');
    assert.match(text, /event: change\ndata: \{"type":"created","path":"\/app\/a"/);
    assert.doesNotMatch(text, /outside/);
    const bad = await fetch(`${p.base}/console/api/feed?path=nope`);
    assert.equal(bad.status, 400);
    // The browser going away removes the feed's watch from the server.
    const watchesNow = async (): Promise<number> => (await (await fetch(`${p.base}/commands/wchs`)).json() as { num_total_watches: number }).num_total_watches;
    assert.equal(await watchesNow(), 1);
    abort.abort();
    const deadline = Date.now() + 10_000;
    while ((await watchesNow()) !== 0) {
      assert.ok(Date.now() < deadline, 'the feed\'s watch was never removed');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    abort.abort();
    await client.close();
    await p.stop();
  }
});

test('writes need the console header; a loopback console answers only to loopback host names', async () => {
  const p = await startPaddockWithConsole();
  try {
    const noHeader = await api(p.base, 'create', { body: { path: '/x' }, header: false });
    assert.equal(noHeader.status, 403);
    const page = await fetch(`${p.base}/`);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="\/console\/js\/app.js">/);
    assert.equal((await fetch(`${p.base}/console/js/app.js`)).status, 200);
    assert.equal((await fetch(`${p.base}/console/js/nosuch.js`)).status, 404);
    for (const name of ['constructor', '__proto__', 'toString', 'nosuch']) assert.equal((await api(p.base, name)).status, 404, name);
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request(`${p.base}/console/api/info`, { headers: { host: 'attacker.example:8080' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(rebound, 403);
  } finally {
    await p.stop();
  }
});

test('an exposed console needs a digest login named in the ACL of /, and then acts with that identity', async () => {
  const p = await startPaddockWithConsole();
  const admin = await connect(p.connectString);
  const exposed = await startLoginConsole(p);
  try {
    await admin.create('/secret', 's', { acl: [{ perms: Perm.ALL, id: { scheme: 'digest', id: digestId('ops:pw') } }] });
    assert.equal((await api(exposed.base, 'children', { query: { path: '/' } })).status, 401);
    assert.deepEqual((await api(exposed.base, 'info')).body, { requireLogin: true, user: null }, 'nothing about the server before a login');
    // The root ACL is world:anyone only: it names nobody, so nobody logs in yet.
    assert.equal((await api(exposed.base, 'login', { body: { user: 'ops', password: 'pw' } })).status, 401);
    await admin.setACL('/', [
      { perms: Perm.READ, id: { scheme: 'world', id: 'anyone' } },
      { perms: Perm.ALL, id: { scheme: 'digest', id: digestId('ops:pw') } },
    ]);
    assert.equal((await api(exposed.base, 'login', { body: { user: 'ops', password: 'wrong' } })).status, 401);
    const ok = await api(exposed.base, 'login', { body: { user: 'ops', password: 'pw' } });
    assert.equal(ok.status, 200);
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    assert.match(ok.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict/);
    assert.equal((await api(exposed.base, 'info', { cookie })).body.user, 'ops');
    const secret = await api(exposed.base, 'node', { query: { path: '/secret' }, cookie });
    assert.equal(Buffer.from(secret.body.data as string, 'base64').toString(), 's');
    // The anonymous loopback console has no such identity: the server refuses it the node.
    assert.equal((await api(p.base, 'node', { query: { path: '/secret' } })).body.error, 'NOAUTH');
    assert.equal((await api(p.base, 'sessions')).body.error, 'NOAUTH');
    assert.equal((await api(exposed.base, 'sessions', { cookie })).status, 200);
    await api(exposed.base, 'logout', { body: {}, cookie });
    assert.equal((await api(exposed.base, 'node', { query: { path: '/secret' }, cookie })).status, 401);
    // Password guessing is slowed down: after ten failures in a minute, logins answer 429.
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await api(exposed.base, 'login', { body: { user: 'ops', password: `guess${i}` } })).status);
    assert.deepEqual(new Set(statuses), new Set([401, 429]));
    assert.equal((await api(exposed.base, 'login', { body: { user: 'ops', password: 'pw' } })).status, 429);
  } finally {
    await exposed.close();
    await admin.setACL('/', [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }]).catch(() => undefined);
    await admin.close();
    await p.stop();
  }
});
