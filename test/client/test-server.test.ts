/** paddock/testing's fault hooks as a client sees them: partition() and heal(). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../../src/testing.js';
import { client, nextSessionEvent, within } from './helpers.js';

test('partition(): the client hears nothing, suspends, expires its session itself; heal(): a new session', async () => {
  await using server = await startTestServer({ tickTime: 200 });
  const zk = await client(server.connectString, { sessionTimeoutMs: 1200 });
  try {
    await zk.create('/before', 'x', { mode: 'ephemeral' });
    const old = zk.sessionId;
    const suspended = nextSessionEvent(zk, (e) => e.type === 'suspended', 5000);
    const expired = nextSessionEvent(zk, (e) => e.type === 'expired', 5000);
    const started = Date.now();
    server.partition();
    // A call made now is neither answered nor failed by the server: it waits in the silence.
    await assert.rejects(zk.exists('/before', { timeoutMs: 300 }), /timed out/);
    await suspended;
    assert.deepEqual(await expired, { type: 'expired', sessionId: old, detectedBy: 'client' });
    assert.ok(Date.now() - started < 2 * 1200, 'the client decided within twice the session timeout');
    // After heal() the client starts a new session (it never resumes one it declared lost).
    const connected = nextSessionEvent(zk, (e) => e.type === 'connected', 10_000);
    server.heal();
    await connected;
    assert.notEqual(zk.sessionId, old);
    assert.ok(await within(zk.exists('/'), 5000, 'a read after heal()'));
  } finally {
    await zk.close();
  }
});

test('a four-letter word passes through the relay in front of the test server', async () => {
  await using server = await startTestServer();
  const { connect } = await import('node:net');
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: server.port }, () => socket.end('ruok'));
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  assert.equal(answer, 'imok');
});
