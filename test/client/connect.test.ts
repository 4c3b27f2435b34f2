/**
 * The first connection and error reporting, against the in-process test server: a bounded
 * connect() whose error names every host tried and why, and failures whose stack trace shows
 * the caller.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { connect, ConnectFailedError, NoNodeError, RequestTimeoutError, ZooKeeperClient } from '../../src/client/index.js';
import { startTestServer } from '../../src/testing.js';
import { within } from './helpers.js';

/** A port with nothing listening: bound once to learn a free port, then closed. */
async function deadPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A server that accepts TCP connections and never answers the handshake. */
async function silentServer(): Promise<{ port: number; accepted: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const s: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return {
    port: (s.address() as { port: number }).port,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

test('connect() to a port where nothing listens rejects within the default bound, naming the host and ECONNREFUSED', async () => {
  const port = await deadPort();
  const started = Date.now();
  const err = await within(
    connect(`127.0.0.1:${port}`).then(
      () => assert.fail('connected to a dead port'),
      (e: unknown) => e,
    ),
    25_000,
    'connect() with the default bound',
  );
  assert.ok(err instanceof ConnectFailedError, String(err));
  assert.ok(err instanceof RequestTimeoutError, 'callers catching RequestTimeoutError still do');
  assert.ok(Date.now() - started >= 14_000, 'the default bound is 15 s');
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  assert.deepEqual(
    err.attempts.map((a) => [a.host, a.code]),
    [[`127.0.0.1:${port}`, 'ECONNREFUSED']],
  );
  assert.ok((err.attempts[0]?.count ?? 0) > 1, 'the host was tried again after backoff');
});

test('connect() names each host with its own failure: refused, DNS failure', async () => {
  const port = await deadPort();
  async function connectToBothHosts(): Promise<unknown> {
    return await connect(`127.0.0.1:${port},paddock-test.invalid:2181`, { initialConnectTimeoutMs: 1500 });
  }
  const err = await connectToBothHosts().then(
    () => assert.fail('connected'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConnectFailedError, String(err));
  const byHost = new Map(err.attempts.map((a) => [a.host, a.code]));
  assert.equal(byHost.get(`127.0.0.1:${port}`), 'ECONNREFUSED');
  // ENOTFOUND where a resolver answers; EAI_AGAIN in a sandbox with no resolver at all.
  assert.match(byHost.get('paddock-test.invalid:2181') ?? '', /^(ENOTFOUND|EAI_AGAIN)$/);
  assert.match(err.message, /could not connect within 1500 ms/);
  assert.match(err.message, /paddock-test\.invalid:2181: (ENOTFOUND|EAI_AGAIN)/);
  assert.match(err.stack ?? '', /at async connectToBothHosts /);
});

test('waitConnected() with a timeout on a client that never connects says why', async () => {
  const port = await deadPort();
  const zk = new ZooKeeperClient(`127.0.0.1:${port}`);
  try {
    async function waitForServer(): Promise<void> {
      await zk.waitConnected({ timeoutMs: 300 });
    }
    const err = await waitForServer().catch((e: unknown) => e);
    assert.ok(err instanceof ConnectFailedError, String(err));
    assert.match(err.message, new RegExp(`could not connect within 300 ms: 127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    assert.match(err.stack ?? '', /at async waitForServer /);
  } finally {
    await zk.close();
  }
});

test('connect() to a server that accepts TCP but never answers the handshake reports a timeout', async () => {
  const silent = await silentServer();
  try {
    const err = await connect(`127.0.0.1:${silent.port}`, { initialConnectTimeoutMs: 2500, connectTimeoutMs: 500 }).then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectFailedError, String(err));
    assert.ok(silent.accepted() >= 2, 'the client tried again after each handshake timeout');
    assert.deepEqual(
      err.attempts.map((a) => [a.host, a.code]),
      [[`127.0.0.1:${silent.port}`, 'ETIMEDOUT']],
    );
    assert.match(err.message, /no handshake reply within 500 ms/);
  } finally {
    await silent.close();
  }
});

test('an operation failing with NONODE has the calling function in its stack trace', async () => {
  const server = await startTestServer();
  try {
    const zk = await connect(server.connectString);
    try {
      async function readMissingConfiguration(): Promise<unknown> {
        return await zk.getData('/no/such/config');
      }
      const err = await readMissingConfiguration().then(
        () => assert.fail('read a missing node'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof NoNodeError);
      assert.match(err.stack ?? '', /^NoNodeError: NONODE for \/no\/such\/config\n/);
      assert.match(err.stack ?? '', /at async readMissingConfiguration /);
      // Multi failures and closed-client errors are treated alike.
      async function commitToMissingParent(): Promise<unknown> {
        return await zk.transaction().create('/no/such/child').commit();
      }
      const txErr = await commitToMissingParent().catch((e: unknown) => e);
      assert.match((txErr as Error).stack ?? '', /at async commitToMissingParent /);
    } finally {
      await zk.close();
    }
    async function readAfterClose(): Promise<unknown> {
      return await zk.exists('/');
    }
    const closedErr = await readAfterClose().catch((e: unknown) => e);
    assert.match((closedErr as Error).stack ?? '', /at async readAfterClose /);
  } finally {
    await server.close();
  }
});
