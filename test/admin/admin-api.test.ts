/** The admin HTTP API against Paddock alone: routing, aliases, errors, state-changing commands. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from '../../src/client/index.js';
import { ADMIN_COMMANDS } from '../../src/admin/commands.js';
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
