/**
 * The package's public entry points, imported by name as a user would ('paddock',
 * 'paddock/testing'), resolved through package.json "exports".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

test("'paddock/testing' starts a server that the 'paddock' client can use, expire and cut off", async () => {
  const testing = (await import('paddock/testing' as string)) as typeof import('../../src/testing.js');
  const paddock = (await import('paddock' as string)) as typeof import('../../src/index.js');
  const server = await testing.startTestServer();
  try {
    const zk = await paddock.connect(server.connectString, { sessionTimeoutMs: 4000 });
    await zk.create('/hello', 'world');
    const { data } = await zk.getData('/hello');
    assert.equal(data.toString(), 'world');
    const events: string[] = [];
    const expired = new Promise<void>((resolve) => {
      zk.onSession((e) => {
        events.push(e.type);
        if (e.type === 'expired') resolve();
      });
    });
    const id = zk.sessionId!;
    assert.ok(server.dropConnection(id), 'the connection is cut');
    assert.ok(server.expireSession(id), 'the session is expired');
    await expired;
    assert.deepEqual(events.slice(0, 1), ['suspended']);
    await zk.close();
  } finally {
    await server.close();
  }
});
