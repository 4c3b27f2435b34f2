import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMode, Err, EventType, OpCode } from '../../src/jute/constants.js';
import { MemoryDisk } from '../../src/io/disk.js';
import { startServer, type PaddockServer } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import type { ServerConfig } from '../../src/config/config.js';
import { RawClient } from '../support/rawclient.js';
import { create } from '../server/helpers.js';

function config(dataDir: string, extra: Partial<ServerConfig> = {}): Partial<ServerConfig> {
  return { clientPort: 0, clientPortAddress: '127.0.0.1', dataDir, dataLogDir: dataDir, maxClientCnxns: 0, ...extra };
}

async function withDataDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-restart-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const connect = (s: PaddockServer, extra = {}) => RawClient.connect('127.0.0.1', s.port, { timeoutMs: 10_000, ...extra });

test('the tree, sequence counters and sessions survive a restart', async () => {
  await withDataDir(async (dir) => {
    let server = await startServer(config(dir, { snapCount: 20 }), { logger: silentLogger });
    const c = await connect(server);
    await c.send(create('/keep', 'v'));
    for (let i = 0; i < 30; i++) await c.send({ type: OpCode.setData, path: '/keep', data: Buffer.from(`v${i}`), version: -1 });
    await c.send(create('/seq'));
    const before = await c.send(create('/seq/n-', '', CreateMode.PERSISTENT_SEQUENTIAL));
    await c.send(create('/eph', '', CreateMode.EPHEMERAL));
    const statBefore = await c.send({ type: OpCode.exists, path: '/keep', watch: false });
    c.destroy();
    await server.close();

    server = await startServer(config(dir), { logger: silentLogger });
    const again = await connect(server, { sessionId: c.sessionId, passwd: c.session.passwd ?? undefined, lastZxidSeen: statBefore.header.zxid });
    assert.equal(again.sessionId, c.sessionId, 'the restored session can be reopened');
    const statAfter = await again.send({ type: OpCode.exists, path: '/keep', watch: false });
    assert.deepEqual(statAfter.body, statBefore.body);
    const eph = await again.send({ type: OpCode.exists, path: '/eph', watch: false });
    assert.equal(eph.header.err, Err.OK, 'ephemerals of a restored session survive');
    const after = await again.send(create('/seq/n-', '', CreateMode.PERSISTENT_SEQUENTIAL));
    assert.ok((after.body as { path: string }).path > (before.body as { path: string }).path, 'sequence numbers never go back');
    await again.close();
    await server.close();
  });
});

test('a restored session whose client does not come back expires, taking its ephemerals', async () => {
  await withDataDir(async (dir) => {
    const cfg = config(dir, { tickTime: 50, minSessionTimeout: 200, maxSessionTimeout: 300 });
    let server = await startServer(cfg, { logger: silentLogger });
    const gone = await connect(server, { timeoutMs: 200 });
    await gone.send(create('/lease', '', CreateMode.EPHEMERAL));
    gone.destroy();
    await server.close();
    server = await startServer(cfg, { logger: silentLogger });
    const watcher = await connect(server);
    const exists = await watcher.send({ type: OpCode.exists, path: '/lease', watch: true });
    assert.equal(exists.header.err, Err.OK);
    const ev = await watcher.waitForEvent((e) => e.path === '/lease', 5000);
    assert.equal(ev.type, EventType.NodeDeleted);
    await watcher.close();
    await server.close();
  });
});

test('a second server cannot share a data directory', async () => {
  await withDataDir(async (dir) => {
    const server = await startServer(config(dir), { logger: silentLogger });
    await assert.rejects(startServer(config(dir), { logger: silentLogger }), /in use/);
    await server.close();
  });
});

test('a full disk stops writes with NOTREADONLY while reads go on, and writes resume when it recovers', async () => {
  const disk = new MemoryDisk();
  let full = false;
  disk.fault = (op, path) => (full && op === 'write' && path.includes('/log.') ? 'ENOSPC' : null);
  const server = await startServer(config('/data', { tickTime: 50 }), { logger: silentLogger, disk });
  const c = await connect(server);
  await c.send(create('/before', 'x'));
  full = true;
  const refused = await c.send(create('/during', 'x'));
  assert.equal(refused.header.err, Err.NOTREADONLY);
  const read = await c.send({ type: OpCode.getData, path: '/before', watch: false });
  assert.equal(read.header.err, Err.OK, 'reads are still served');
  full = false;
  let resumed = -1;
  for (let attempt = 0; attempt < 100 && resumed !== Err.OK; attempt++) {
    // Writes come back on the server's next tick; wait one tick between tries.
    await new Promise((r) => setTimeout(r, 50));
    resumed = (await c.send(create('/after', 'x'))).header.err;
  }
  assert.equal(resumed, Err.OK, 'writes resume once the disk has room again');
  const during = await c.send({ type: OpCode.exists, path: '/during', watch: false });
  assert.equal(during.header.err, Err.NONODE, 'the refused write did not happen');
  await c.close();
  await server.close();
});
