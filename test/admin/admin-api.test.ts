/** The admin HTTP API against Paddock alone: routing, aliases, errors, state-changing commands. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from '../../src/client/index.js';
import { ADMIN_COMMANDS } from '../../src/admin/commands.js';
import { digestId } from '../../src/acl/index.js';
import { startPaddock } from '../support/paddock.js';
import { getJson, getText, startPaddockWithAdmin } from './support.js';

test('every command and alias answers JSON with "command" and "error"', async () => {
  const p = await startPaddockWithAdmin();
  try {
    const port = p.server.admin!.port;
    const index = await getText(port, '/commands');
    assert.equal(index.status, 200);
    for (const c of ADMIN_COMMANDS) {
      assert.ok(index.body.includes(`<a href="/commands/${c.name}">${c.name}</a>`), `index lists ${c.name}`);
      for (const name of [c.name, ...c.aliases]) {
        const body = await getJson(port, `/commands/${name}`);
        assert.equal(body.command, c.name, `${name} answers as ${c.name}`);
        assert.ok('error' in body, `${name} has an error key`);
      }
    }
    assert.deepEqual(await getJson(port, '/commands/nosuch'), { command: 'nosuch', error: 'Unknown command: nosuch' });
    assert.equal((await getText(port, '/elsewhere')).status, 404);
    const post = await fetch(`http://127.0.0.1:${port}/commands/ruok`, { method: 'POST' });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  } finally {
    await p.stop();
  }
});

test('session state shows in dump, watches, connections; stmk and srst change state', async () => {
  const p = await startPaddockWithAdmin();
  const client = await connect(p.connectString);
  try {
    const port = p.server.admin!.port;
    await client.create('/e', Buffer.from('x'), { mode: 'ephemeral' });
    await client.getData('/e', { watch: () => undefined });
    const id = String(client.sessionId);
    const dump = await getJson(port, '/commands/dump');
    assert.deepEqual((dump.session_id_to_ephemeral_paths as Record<string, string[]>)[id], ['/e']);
    // Session ids are 64-bit: printed as JSON numbers, as ZooKeeper does, so read the raw text.
    const raw = (await getText(port, '/commands/wchp')).body;
    assert.match(raw, new RegExp(`"/e" : \\[ ${id} \\]`));
    assert.deepEqual(await getJson(port, '/commands/wchs'), { num_connections: 1, num_paths: 1, num_total_watches: 1, command: 'watch_summary', error: null });
    const cons = (await getJson(port, '/commands/cons')).connections as Record<string, unknown>[];
    assert.equal(cons.length, 1);
    assert.equal(cons[0]!.session_timeout, client.sessionTimeoutMs);

    assert.deepEqual(await getJson(port, '/commands/stmk'), { error: 'setTraceMask requires long traceMask argument', command: 'set_trace_mask' });
    assert.equal((await getJson(port, '/commands/stmk?traceMask=4')).tracemask, 4);
    assert.equal((await getJson(port, '/commands/gtmk')).tracemask, 4);

    const before = (await getJson(port, '/commands/srvr')).server_stats as Record<string, number>;
    assert.ok(before.packets_received >= 2);
    await getJson(port, '/commands/srst');
    const after = (await getJson(port, '/commands/srvr')).server_stats as Record<string, number>;
    assert.equal(after.packets_received, 0);
  } finally {
    await client.close();
    await p.stop();
  }
});

test('admin.commandURL moves the commands; the server is off unless enabled', async () => {
  const p = await startPaddock({ adminEnableServer: true, adminServerAddress: '127.0.0.1', adminServerPort: 0, adminCommandUrl: '/zk' });
  try {
    assert.equal((await getJson(p.server.admin!.port, '/zk/ruok')).command, 'ruok');
    assert.equal((await getText(p.server.admin!.port, '/commands/ruok')).status, 404);
    assert.equal(p.server.metrics, null);
  } finally {
    await p.stop();
  }
  const plain = await startPaddock();
  try {
    assert.equal(plain.server.admin, null);
  } finally {
    await plain.stop();
  }
});

test('with "/" restricted, commands revealing sessions or changing state need ZooKeeper 3.9\'s Authorization header', async () => {
  const p = await startPaddockWithAdmin();
  const client = await connect(p.connectString);
  try {
    const port = p.server.admin!.port;
    const get = (path: string, authorization?: string): Promise<Response> =>
      fetch(`http://127.0.0.1:${port}${path}`, { headers: authorization === undefined ? {} : { Authorization: authorization }, signal: AbortSignal.timeout(10_000) });
    // Default root ACL (world:anyone ALL): no credentials needed, as in ZooKeeper 3.8.
    assert.equal(((await (await get('/commands/dump')).json()) as { error: unknown }).error, null);
    await client.setACL('/', [{ perms: 31, id: { scheme: 'digest', id: digestId('admin:secret') } }, { perms: 1, id: { scheme: 'world', id: 'anyone' } }]);
    const missing = await get('/commands/dump');
    assert.equal(missing.status, 401);
    assert.deepEqual(await missing.json(), { command: 'dump', error: 'Auth info is missing for the command' });
    const wrong = await get('/commands/wchc', 'digest admin:wrong');
    assert.equal(wrong.status, 403);
    assert.equal(((await wrong.json()) as { error: unknown }).error, 'Not authorized');
    const unknownScheme = await get('/commands/cons', 'kerberos x');
    assert.equal(unknownScheme.status, 401);
    await unknownScheme.body?.cancel();
    const right = await get('/commands/srst', 'digest admin:secret');
    assert.equal(right.status, 200);
    assert.equal(((await right.json()) as { error: unknown }).error, null);
    // Commands that reveal no session and change nothing stay open.
    const ruok = await get('/commands/ruok');
    assert.equal(ruok.status, 200);
    await ruok.body?.cancel();
  } finally {
    await client.close();
    await p.stop();
  }
});
