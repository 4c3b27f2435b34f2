/** Issue 10 item 10: `stat` and `mntr` count every open connection, the one asking included, as ZooKeeper does. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fourLetterWord } from '../support/zookeeper.js';
import { client, withServer } from './helpers.js';

function connectionsLine(stat: string): number {
  const m = /^Connections: (\d+)$/m.exec(stat);
  assert.ok(m, `no Connections line in:\n${stat}`);
  return Number(m[1]);
}

function clientLines(stat: string): number {
  const list = /Clients:\n((?: .*\n)*)/.exec(stat);
  assert.ok(list, `no Clients list in:\n${stat}`);
  return list[1]!.split('\n').filter((l) => l.startsWith(' /')).length;
}

test('stat says Connections: N for the N connections it lists, its own included; mntr agrees', async () => {
  await withServer({}, async (s) => {
    // ZooKeeper 3.8 with no client: one line (the asker, [0]) and "Connections: 1".
    const alone = await fourLetterWord(s.port, 'stat');
    assert.equal(clientLines(alone), 1);
    assert.equal(connectionsLine(alone), 1);

    const clients = await Promise.all([client(s), client(s)]);
    const stat = await fourLetterWord(s.port, 'stat');
    assert.equal(clientLines(stat), 3);
    assert.equal(connectionsLine(stat), 3);
    assert.match(await fourLetterWord(s.port, 'mntr'), /^zk_num_alive_connections\t3$/m);
    await Promise.all(clients.map((c) => c.close()));
  });
});
