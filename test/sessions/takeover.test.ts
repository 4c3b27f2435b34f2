/**
 * Issue 9 item 8, against a real (in-process) server with a data directory: a session's password
 * cannot be computed from its id, a wrong-password reconnect leaves the owner alone, ids are not
 * sequential, the secret survives a restart, ZooKeeper's formula is an explicit setting, and
 * sessions imported from ZooKeeper keep working with the passwords ZooKeeper gave them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importZooKeeper } from '../../src/cli/data.js';
import { NodeDisk } from '../../src/io/disk.js';
import { CreateMode, EventType, OpCode, Perm } from '../../src/jute/index.js';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';
import type { ServerConfig } from '../../src/config/config.js';
import { startServer, type PaddockServer } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { SESSION_SECRET_FILE } from '../../src/server/session-secret.js';
import { zookeeperSessionPassword } from '../../src/sessions/password.js';
import { RawClient } from '../support/rawclient.js';
import { skipUnlessZooKeeper, startZooKeeper } from '../support/zookeeper.js';

const OPEN = [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }];

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'paddock-takeover-'));
}

function start(dataDir: string, overrides: Partial<ServerConfig> = {}): Promise<PaddockServer> {
  return startServer({ clientPort: 0, clientPortAddress: '127.0.0.1', dataDir, dataLogDir: dataDir, ...overrides }, { logger: silentLogger });
}

function connect(srv: PaddockServer, sessionId?: bigint, passwd?: Buffer): Promise<RawClient> {
  return RawClient.connect('127.0.0.1', srv.port, { timeoutMs: 30_000, sessionId, passwd });
}

async function createEphemeral(c: RawClient, path: string): Promise<void> {
  const r = await c.send({ type: OpCode.create, path, data: Buffer.from('mine'), acl: OPEN, flags: CreateMode.EPHEMERAL, ttl: -1 });
  assert.equal(r.header.err, 0, `create ${path}`);
}

async function ownerOf(c: RawClient, path: string): Promise<bigint | null> {
  const r = await c.send({ type: OpCode.exists, path, watch: false });
  return r.header.err === 0 ? (r.body as { stat: { ephemeralOwner: bigint } }).stat.ephemeralOwner : null;
}

test("a reconnect with ZooKeeper's formula (or any wrong password) is refused, and the owner is not disturbed", async () => {
  const dir = tempDir();
  const srv = await start(dir);
  try {
    const owner = await connect(srv);
    const id = owner.sessionId;
    assert.notDeepEqual(owner.session.passwd, zookeeperSessionPassword(id), 'the password is not the public formula');
    await createEphemeral(owner, '/lock');
    assert.equal((await owner.send({ type: OpCode.getData, path: '/lock', watch: true })).header.err, 0);

    for (const passwd of [zookeeperSessionPassword(id), Buffer.alloc(16), Buffer.alloc(0)]) {
      await assert.rejects(connect(srv, id, passwd), /expired/, 'the wrong password gets the session-expired reply');
    }

    // The owner's connection, ephemeral and watch are all still there.
    assert.equal(owner.closedReason, null, 'the owner connection stays open');
    assert.equal((await owner.ping()).header.err, 0);
    const other = await connect(srv);
    assert.equal(await ownerOf(other, '/lock'), id);
    const changed = owner.waitForEvent((e) => e.path === '/lock');
    assert.equal((await other.send({ type: OpCode.setData, path: '/lock', data: Buffer.from('x'), version: -1 })).header.err, 0);
    assert.equal((await changed).type, EventType.NodeDataChanged);

    // The real password still works: a second connection takes the session over, as in ZooKeeper.
    const again = await connect(srv, id, owner.session.passwd ?? undefined);
    assert.equal(again.sessionId, id);
    assert.deepEqual(again.session.passwd, owner.session.passwd);
    await again.close();
    assert.equal(await ownerOf(other, '/lock'), null, 'closing by its owner removes the ephemeral');
    await other.close();
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('session ids keep the server id in the top byte and are not sequential', async () => {
  const dir = tempDir();
  const srv = await start(dir, { serverId: 5 });
  try {
    const clients = await Promise.all(Array.from({ length: 6 }, () => connect(srv)));
    const ids = clients.map((c) => c.sessionId).sort((a, b) => (a < b ? -1 : 1));
    for (const id of ids) assert.equal(BigInt.asUintN(64, id) >> 56n, 5n);
    assert.equal(new Set(ids).size, ids.length);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! - ids[i - 1]! > 1n, `ids ${ids[i - 1]} and ${ids[i]} look sequential`);
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the secret is kept in the data directory (mode 600), so sessions survive a restart', async () => {
  const dir = tempDir();
  let srv = await start(dir);
  try {
    const c = await connect(srv);
    const { sessionId } = c;
    const passwd = c.session.passwd!;
    await createEphemeral(c, '/held');
    c.destroy();
    await c.closed;
    await srv.close();
    const secretPath = join(dir, SESSION_SECRET_FILE);
    assert.equal(statSync(secretPath).mode & 0o777, 0o600);
    const secretText = readFileSync(secretPath, 'utf8');

    srv = await start(dir);
    assert.equal(readFileSync(secretPath, 'utf8'), secretText, 'a restart keeps the secret');
    await assert.rejects(connect(srv, sessionId, zookeeperSessionPassword(sessionId)), /expired/);
    const back = await connect(srv, sessionId, passwd);
    assert.equal(back.sessionId, sessionId);
    assert.equal(await ownerOf(back, '/held'), sessionId);
    await back.close();
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("paddock.sessionPasswords=zookeeper restores ZooKeeper's formula", async () => {
  const parsed = parseZooCfg('tickTime=2000\ndataDir=/d\nclientPort=2181\npaddock.sessionPasswords=zookeeper\n', { baseDir: '/' });
  assert.equal(parsed.config.sessionPasswords, 'zookeeper');
  assert.ok(parsed.warnings.some((w) => w.includes('paddock.sessionPasswords=zookeeper')));
  assert.equal(parseZooCfg('tickTime=2000\ndataDir=/d\nclientPort=2181\n', { baseDir: '/' }).config.sessionPasswords, 'secret');
  assert.throws(() => parseZooCfg('tickTime=2000\ndataDir=/d\npaddock.sessionPasswords=none\n', { baseDir: '/' }), /must be secret or zookeeper/);

  const dir = tempDir();
  const srv = await start(dir, { sessionPasswords: 'zookeeper' });
  try {
    const c = await connect(srv);
    assert.deepEqual(c.session.passwd, zookeeperSessionPassword(c.sessionId));
    c.destroy();
    await c.closed;
    const back = await connect(srv, c.sessionId, zookeeperSessionPassword(c.sessionId));
    assert.equal(back.sessionId, c.sessionId);
    await back.close();
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sessions imported from ZooKeeper reconnect with the passwords ZooKeeper gave them; new ones get secret passwords', { skip: skipUnlessZooKeeper() }, async () => {
  const zkDir = tempDir();
  const outDir = tempDir();
  let srv: PaddockServer | null = null;
  try {
    const zk = await startZooKeeper({ dataDir: zkDir });
    let zkSession: { id: bigint; passwd: Buffer };
    try {
      const c = await RawClient.connect('127.0.0.1', zk.port, { timeoutMs: 30_000 });
      zkSession = { id: c.sessionId, passwd: c.session.passwd! };
      assert.deepEqual(zkSession.passwd, zookeeperSessionPassword(zkSession.id), "ZooKeeper's own formula");
      await createEphemeral(c, '/zk-lock');
      c.destroy();
    } finally {
      await zk.stop(); // SIGKILL: the session stays open in ZooKeeper's log
    }
    await importZooKeeper(new NodeDisk(), zkDir, outDir);

    srv = await start(outDir);
    const back = await connect(srv, zkSession.id, zkSession.passwd);
    assert.equal(back.sessionId, zkSession.id);
    assert.deepEqual(back.session.passwd, zkSession.passwd, 'the imported session keeps its password');
    assert.equal(await ownerOf(back, '/zk-lock'), zkSession.id);
    assert.match(readFileSync(join(outDir, SESSION_SECRET_FILE), 'utf8'), new RegExp(`zookeeperFormulaSessions=0x${zkSession.id.toString(16)}`));

    const fresh = await connect(srv);
    assert.notDeepEqual(fresh.session.passwd, zookeeperSessionPassword(fresh.sessionId), 'new sessions get secret passwords');
    await fresh.close();
    await back.close();
  } finally {
    await srv?.close();
    rmSync(zkDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  }
});
