/**
 * Issue 15 item 4: TLS between ensemble members (sslQuorum, portUnification,
 * sslQuorumReloadCertFiles, ssl.quorum.*), with certificates made by openssl and keytool as an
 * operator makes them (pki.ts):
 * - the transport alone: what is accepted and refused on each end (chain, hostname
 *   verification, plaintext, port unification, reload) and the start-up errors;
 * - three `paddock server` processes with sslQuorum elect, replicate and survive kill -9 of the
 *   leader; plaintext to their TLS ports is refused without harm;
 * - a member with a certificate from another CA, or one naming another host, is refused and
 *   the others serve on; port unification lets TLS and plain members share an ensemble;
 * - mixed ensembles with Apache ZooKeeper 3.8 configured from the same zoo.cfg lines
 *   (2 ZooKeeper + 1 Paddock with Paddock leading, 1 ZooKeeper + 2 Paddock with ZooKeeper
 *   leading, then without it), trees compared across every server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import type { ServerConfig } from '../../src/config/config.js';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';
import type { Logger } from '../../src/lib/log.js';
import { startServer, type PaddockServer } from '../../src/server/index.js';
import { QuorumTls, startsTlsRecord, type QuorumTlsOptions } from '../../src/server/quorum/quorum-tls.js';
import { MemoryLearnerStore } from '../../src/server/quorum/learner-driver.js';
import { TlsConfigError } from '../../src/server/tls.js';
import { makeCluster, running, TICK_MS, waitForRoles, type Cluster } from '../ensemble/cluster.js';
import { assertTreesEqual } from '../ensemble/compare.js';
import { makeProcessEnsemble, settled } from '../ensemble/processes.js';
import { assertSameTree, readTree } from '../ensemble/writer.js';
import { quorumPorts, startZooKeeperPeer, waitForMode, ZOOKEEPER_LOGS, type QuorumMemberPorts, type ZooKeeperPeer } from '../consensus/zk-quorum.js';
import { skipUnless } from '../support/clients.js';
import { NETTY_CODEC_JAR, skipUnlessZooKeeper } from '../support/zookeeper.js';
import { keytoolMissing, makePki, opensslMissing, STORE_PASSWORD, type Identity, type Pki } from './pki.js';

const skip = skipUnless(opensslMissing(), keytoolMissing());
/** ZooKeeper's tick in the mixed ensembles (its JVMs are slow to start on a shared machine). */
const TICK_MS_ZK = 500;
const zkSkip = skip || skipUnlessZooKeeper();
let pki: Pki;

before(() => {
  if (!skip) pki = makePki();
});
after(() => pki?.remove());

// ---- configuration --------------------------------------------------------------------------

/** The zoo.cfg lines of quorum TLS, as ZooKeeper's admin guide writes them (PKCS12 stores). */
function quorumTlsLines(who: Identity, more: Record<string, string> = {}): string[] {
  const lines = {
    sslQuorum: 'true',
    'ssl.quorum.keyStore.location': who.keyStoreP12,
    'ssl.quorum.keyStore.password': STORE_PASSWORD,
    'ssl.quorum.keyStore.type': 'PKCS12',
    'ssl.quorum.trustStore.location': pki.trustStoreP12,
    'ssl.quorum.trustStore.password': STORE_PASSWORD,
    'ssl.quorum.trustStore.type': 'PKCS12',
    ...more,
  };
  return Object.entries(lines).map(([k, v]) => `${k}=${v}`);
}

/** What Paddock makes of those lines (read by its zoo.cfg parser, as `paddock server` reads them). */
function quorumTlsConfig(lines: readonly string[]): Partial<ServerConfig> {
  const { config } = parseZooCfg([`dataDir=${join(pki.dir, 'unused')}`, 'clientPort=2181', ...lines].join('\n') + '\n', { baseDir: pki.dir });
  return {
    sslQuorum: config.sslQuorum,
    quorumPortUnification: config.quorumPortUnification,
    sslQuorumReloadCertFiles: config.sslQuorumReloadCertFiles,
    sslQuorumSettings: config.sslQuorumSettings,
  };
}

/** Log lines of in-process members, and waits on them. */
class Logs {
  readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();

  logger(id: number | string): Logger {
    const put = (level: string) => (msg: string): void => {
      this.lines.push(`[${id} ${level}] ${msg}`);
      if (process.env.PADDOCK_TEST_LOG === '1') process.stderr.write(`[${id} ${level}] ${msg}\n`);
      for (const check of [...this.waiters]) check();
    };
    return { debug: put('debug'), info: put('info'), warn: put('warn'), error: put('error') };
  }

  /** Resolves with the first line (past or future) matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const line = this.lines.find((l) => pattern.test(l));
        if (line === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(line);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no log line ${pattern} within ${timeoutMs} ms; last lines:\n${this.lines.slice(-20).join('\n')}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

// ---- the transport alone ----------------------------------------------------------------------

/** A connection the acceptor handed on, with what arrived on it (read from the moment it was handed on, as the drivers do). */
interface Accepted {
  socket: Socket;
  /** Resolves once `count` bytes have arrived. */
  read(count: number): Promise<Buffer>;
}

/** A listener accepting through one QuorumTls; `accepted` resolves with each connection it hands on. */
async function listenWith(transport: QuorumTls): Promise<{ port: number; accepted: () => Promise<Accepted>; close(): Promise<void> }> {
  const queue: Accepted[] = [];
  const waiting: ((a: Accepted) => void)[] = [];
  const handed: Socket[] = [];
  const acceptor = transport.acceptor((socket) => {
    handed.push(socket);
    let got = Buffer.alloc(0);
    const readers = new Set<() => void>();
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      for (const r of [...readers]) r();
    });
    const accepted: Accepted = {
      socket,
      read: (count) => withTimeout(new Promise((resolve) => {
        const check = (): void => {
          if (got.length < count) return;
          readers.delete(check);
          resolve(got.subarray(0, count));
        };
        readers.add(check);
        check();
      }), 10_000, `fewer than ${count} bytes`),
    };
    const w = waiting.shift();
    if (w) w(accepted);
    else queue.push(accepted);
  });
  const server: Server = createServer((raw) => acceptor.accept(raw));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    accepted: () => withTimeout(queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve)), 10_000, 'the acceptor handed on no connection'),
    async close() {
      acceptor.close();
      transport.close();
      for (const socket of handed) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function transportOf(settings: Record<string, string>, logs: Logs, name: string, more: Partial<QuorumTlsOptions> = {}): QuorumTls {
  return new QuorumTls({ settings: new Map(Object.entries(settings)), secure: true, unified: false, reload: false, handshakeTimeoutMs: 5000, logger: logs.logger(name), ...more });
}

function storesOf(who: Identity, trust = pki.caPem): Record<string, string> {
  return { 'keyStore.location': who.keyStorePem, 'trustStore.location': trust };
}

/** Connects through `transport`; resolves true once ready, false when the connection ends first. */
function tryConnect(transport: QuorumTls, port: number): Promise<{ ready: boolean; socket: Socket }> {
  return new Promise((resolve) => {
    const socket = transport.connect('127.0.0.1', port, () => resolve({ ready: true, socket }));
    socket.once('close', () => resolve({ ready: false, socket }));
  });
}

/** Sends bytes on a plain connection and resolves with what came back before the server closed it. */
function plainProbe(port: number, bytes: Buffer, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`port ${port} kept a plaintext connection open for ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (d) => got.push(d));
    socket.on('error', () => undefined);
    socket.once('connect', () => socket.write(bytes));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}

/** The election preamble a ZooKeeper 3.8 server sends first: version -65536, sid, "host:port". */
function electionPreamble(sid: bigint): Buffer {
  const address = Buffer.from('127.0.0.1:1');
  const b = Buffer.alloc(20 + address.length);
  b.writeBigInt64BE(-65536n, 0);
  b.writeBigInt64BE(sid, 8);
  b.writeInt32BE(address.length, 16);
  address.copy(b, 20);
  return b;
}

test('a TLS record header is told from an election preamble and a quorum packet', () => {
  assert.equal(startsTlsRecord(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xf4])), true);
  assert.equal(startsTlsRecord(electionPreamble(3n).subarray(0, 5)), false);
  // A pre-3.5 server's first long is its sid; a learner's first packet starts with its length.
  assert.equal(startsTlsRecord(Buffer.from([0, 0, 0, 0, 0])), false);
  assert.equal(startsTlsRecord(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])), false);
  assert.equal(startsTlsRecord(Buffer.from([0x16, 0x03])), false);
});

test('the quorum transport: both ends check the chain and the peer\'s address; plaintext is blocked unless unified', { skip, timeout: 60_000 }, async (t) => {
  const logs = new Logs();
  const listener = await listenWith(transportOf(storesOf(pki.server), logs, 'acceptor'));
  t.after(() => listener.close());
  const good = transportOf(storesOf(pki.server), logs, 'good');

  // Trusted on both ends, certificates naming 127.0.0.1: data flows both ways.
  const ok = await tryConnect(good, listener.port);
  assert.equal(ok.ready, true);
  const far = await listener.accepted();
  ok.socket.write('ping');
  assert.equal((await far.read(4)).toString(), 'ping');
  far.socket.write('pong');
  assert.equal((await once(ok.socket, 'data')).toString(), 'pong');
  ok.socket.destroy();

  // A certificate from another CA: the acceptor closes the connection once the handshake shows it.
  const stranger = await tryConnect(transportOf(storesOf(pki.stranger), logs, 'stranger'), listener.port);
  if (stranger.ready) await once(stranger.socket, 'close');
  await logs.waitFor(/\[acceptor warn\] quorum TLS peer 127\.0\.0\.1:\d+ refused: its certificate does not verify \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/, 10_000);

  // A trusted certificate that names neither 127.0.0.1 nor localhost (its reverse lookup).
  const otherHost = await tryConnect(transportOf(storesOf(pki.other), logs, 'other'), listener.port);
  assert.equal(otherHost.ready, true, 'the handshake itself succeeds');
  await once(otherHost.socket, 'close');
  await logs.waitFor(/\[acceptor warn\] quorum TLS peer .* refused: its certificate \(other\) does not match its address 127\.0\.0\.1 or host name localhost/, 10_000);

  // The connecting end checks the acceptor the same way.
  const otherListener = await listenWith(transportOf(storesOf(pki.other), logs, 'other-acceptor'));
  t.after(() => otherListener.close());
  const toOther = await tryConnect(good, otherListener.port);
  assert.equal(toOther.ready, false);
  await logs.waitFor(/\[good warn\] quorum TLS to 127\.0\.0\.1:\d+ failed: the certificate of 127\.0\.0\.1:\d+ \(other\) does not match its address 127\.0\.0\.1/, 10_000);

  // ssl.quorum.hostnameVerification=false: the chain is all that counts.
  const lax = await listenWith(transportOf({ ...storesOf(pki.server), hostnameVerification: 'false' }, logs, 'lax'));
  t.after(() => lax.close());
  const laxOk = await tryConnect(transportOf({ ...storesOf(pki.other), hostnameVerification: 'false' }, logs, 'other-lax'), lax.port);
  assert.equal(laxOk.ready, true);
  (await lax.accepted()).socket.destroy();
  laxOk.socket.destroy();

  // Plaintext (an election preamble) to a TLS-only port: closed, nothing answered.
  assert.equal((await plainProbe(listener.port, electionPreamble(9n))).length, 0);
  await logs.waitFor(/\[acceptor warn\] blocked a plaintext connection from 127\.0\.0\.1:\d+/, 10_000);
  good.close();
});

test('portUnification: one port takes TLS and plain members; a plain one is handed on with its first bytes', { skip, timeout: 30_000 }, async (t) => {
  const logs = new Logs();
  const listener = await listenWith(transportOf(storesOf(pki.server), logs, 'unified', { unified: true }));
  t.after(() => listener.close());
  const tlsPeer = await tryConnect(transportOf(storesOf(pki.server), logs, 'tls'), listener.port);
  assert.equal(tlsPeer.ready, true);
  (await listener.accepted()).socket.destroy();
  tlsPeer.socket.destroy();

  // A member without sslQuorum connects plainly: its preamble arrives whole.
  const plain = transportOf(storesOf(pki.server), logs, 'plain', { secure: false, unified: true });
  const plainPeer = await tryConnect(plain, listener.port);
  assert.equal(plainPeer.ready, true);
  const preamble = electionPreamble(2n);
  plainPeer.socket.write(preamble);
  const far = await listener.accepted();
  assert.deepEqual(await far.read(preamble.length), preamble);
  far.socket.destroy();
  plainPeer.socket.destroy();
});

test('sslQuorumReloadCertFiles: a trust store replaced on disk is used for the next connections', { skip, timeout: 30_000 }, async (t) => {
  const logs = new Logs();
  const trust = join(pki.dir, 'reload-trust.pem');
  copyFileSync(pki.caPem, trust);
  const transport = transportOf({ ...storesOf(pki.server, trust), hostnameVerification: 'false' }, logs, 'reloading', { reload: true });
  const listener = await listenWith(transport);
  t.after(() => listener.close());
  const stranger = transportOf({ ...storesOf(pki.stranger), hostnameVerification: 'false' }, logs, 'stranger');
  const before = await tryConnect(stranger, listener.port);
  if (before.ready) await once(before.socket, 'close');
  await logs.waitFor(/\[reloading warn\] quorum TLS peer 127\.0\.0\.1:\d+ refused: its certificate does not verify/, 10_000);

  writeFileSync(trust, readFileSync(pki.caPem, 'utf8') + readFileSync(pki.otherCaPem, 'utf8'));
  await logs.waitFor(/\[reloading info\] quorum TLS key and trust stores reloaded/, 10_000);
  const now = await tryConnect(stranger, listener.port);
  assert.equal(now.ready, true, 'the stranger\'s CA is trusted after the reload');
  (await listener.accepted()).socket.destroy();
  now.socket.destroy();
});

test('quorum TLS settings that cannot work stop the start with a message naming them', { skip, timeout: 30_000 }, async () => {
  const logs = new Logs();
  assert.throws(() => transportOf({}, logs, 'x'), (e: Error) => e instanceof TlsConfigError && /ssl\.quorum\.keyStore\.location is not set: sslQuorum needs/.test(e.message));
  assert.throws(() => transportOf({ 'keyStore.location': pki.server.keyStoreP12, 'keyStore.password': 'wrong' }, logs, 'x'), /ssl\.quorum\.keyStore/);
  assert.throws(() => transportOf({ ...storesOf(pki.server), 'trustStore.location': pki.trustStoreJks }, logs, 'x'), /ssl\.quorum\.trustStore\.location .* is a JKS store.*keytool -importkeystore/);
  assert.throws(() => transportOf({ ...storesOf(pki.server), ciphersuites: 'TLS_NO_SUCH_SUITE' }, logs, 'x'), /invalid ssl\.quorum\.ciphersuites/);
  assert.throws(() => quorumTlsConfig(['ssl.quorum.clientAuth=maybe']), /invalid ssl\.quorum\.clientAuth 'maybe'/);
  assert.throws(() => quorumTlsConfig(['sslQuorum=yes']), /sslQuorum/);
  assert.throws(() => quorumTlsConfig(['ssl.quorum.crl=true']), /ssl\.quorum\.crl/);

  // A member whose quorum key store is missing does not start (and opens no port).
  const members = await quorumPorts(3);
  await assert.rejects(
    startServer({
      ...memberConfig(members, 1),
      ...quorumTlsConfig(quorumTlsLines({ ...pki.server, keyStoreP12: join(pki.dir, 'missing.p12') })),
    }, { quorumStore: new MemoryLearnerStore(), logger: logs.logger(1) }),
    /cannot read ssl\.quorum\.keyStore\.location .*missing\.p12/,
  );
});

// ---- Paddock ensembles ------------------------------------------------------------------------

test('sslQuorum: three `paddock server` processes elect, replicate and survive kill -9 of the leader; plaintext to their TLS ports is refused', { skip, timeout: 180_000 }, async (t) => {
  const e = await makeProcessEnsemble(3, 200, quorumTlsLines(pki.server));
  t.after(() => e.close());
  for (const m of e.members) e.start(m.id);
  await e.waitFor('settled', 60_000, () => settled(e));
  const leader = e.members.find((m) => m.mode === 'leader')!;
  const opts = { sessionTimeoutMs: 10_000 };
  const client = await connect(e.connectString, opts);
  t.after(() => client.close());
  await client.create('/tls', 'before');
  for (let i = 0; i < 20; i++) await client.create(`/tls/a${i}`, `${i}`);

  // The quorum and election ports speak TLS: a plaintext peer gets nothing and is cut off, and
  // the ensemble goes on.
  const cfg = readFileSync(leader.configPath, 'utf8');
  const electionPorts = [...cfg.matchAll(/^server\.\d+=127\.0\.0\.1:\d+:(\d+)$/gm)].map((m) => Number(m[1]));
  const leaderQuorumPort = Number(new RegExp(`^server\\.${leader.id}=127\\.0\\.0\\.1:(\\d+):`, 'm').exec(cfg)![1]);
  assert.equal(electionPorts.length, 3);
  // A learner's first packet (FOLLOWERINFO's length) to the leader, a preamble to each election port.
  assert.equal((await plainProbe(leaderQuorumPort, Buffer.from([0, 0, 0, 40, 0, 0, 0, 11]))).length, 0);
  for (const port of electionPorts) assert.equal((await plainProbe(port, electionPreamble(9n))).length, 0);
  await client.create('/tls/after-probes', '');
  // ... while a member's certificate completes a TLS handshake there.
  const protocol = await tlsHandshake(leaderQuorumPort, pki.server);
  assert.equal(protocol, 'TLSv1.2', 'ssl.quorum.protocol defaults to TLSv1.2, as ZooKeeper 3.8\'s');

  await e.kill(leader.id);
  await e.waitFor('a new leader', 60_000, () => settled(e) && e.members.some((m) => m.mode === 'leader' && m !== leader));
  await client.setData('/tls', 'after the kill');
  for (let i = 0; i < 20; i++) await client.create(`/tls/b${i}`, `${i}`);
  e.start(leader.id);
  await e.waitFor('three members again', 60_000, () => settled(e) && e.members.every((m) => m.child !== null));

  const trees = [];
  for (const m of e.members) {
    const c = await connect(`127.0.0.1:${m.clientPort}`, opts);
    try {
      await c.sync('/');
      trees.push(await readTree(c));
    } finally {
      await c.close();
    }
  }
  assert.equal(trees[0]!.get('/tls')?.data, hex('after the kill'));
  assertSameTree(trees[0]!, trees[1]!, 'servers 1 and 2');
  assertSameTree(trees[0]!, trees[2]!, 'servers 1 and 3');
  t.diagnostic(`${trees[0]!.size} nodes equal on 3 servers after the leader's kill`);
});

test('a member with a certificate from another CA, or naming another host, is refused; the others serve on and a good member joins', { skip, timeout: 120_000 }, async (t) => {
  const logs = new Logs();
  const tlsConfig = quorumTlsConfig(quorumTlsLines(pki.server));
  const cluster = await makeCluster(3, tlsConfig, (id) => logs.logger(id));
  t.after(() => cluster.close());
  await cluster.start(1);
  await cluster.start(2);
  await waitForRoles(cluster, 30_000);
  const client = await connect(`127.0.0.1:${cluster.members[0]!.clientPort}`, { sessionTimeoutMs: 10_000 });
  t.after(() => client.close());
  await client.create('/refused', '');

  for (const [name, who, refusals] of [
    // Its certificate is refused by the others as it connects to them.
    ['stranger', pki.stranger, [/\[[12] warn\] quorum TLS peer 127\.0\.0\.1:\d+ refused: its certificate does not verify/]],
    // Its chain verifies, but it names neither 127.0.0.1 nor localhost: closed after the handshake.
    ['other', pki.other, [/\[[12] warn\] quorum TLS peer 127\.0\.0\.1:\d+ refused: its certificate \(other\) does not match its address 127\.0\.0\.1 or host name localhost/]],
  ] as const) {
    const bad = await startMember(cluster, 3, quorumTlsConfig(quorumTlsLines(who)), logs.logger(`3-${name}`));
    try {
      for (const refusal of refusals) await logs.waitFor(refusal, 30_000);
      assert.equal(bad.server.mode, 'looking', `the ${name} member found no peer`);
      await client.create(`/refused/${name}`, 'written while it knocked');
    } finally {
      await cluster.stop(3);
    }
  }

  // The same member with a good certificate joins and is synced.
  await cluster.start(3);
  await waitForRoles(cluster, 30_000);
  await syncAll(cluster);
  const servers = running(cluster);
  assert.equal(servers.length, 3);
  const nodes = assertTreesEqual(servers.map((s) => s.server.tree), servers.map((s) => `server in mode ${s.server.mode}`));
  assert.ok(nodes >= 4);
});

test('portUnification: members with and without sslQuorum form one ensemble (turning TLS on one member at a time)', { skip, timeout: 90_000 }, async (t) => {
  const logs = new Logs();
  const unified = quorumTlsConfig(quorumTlsLines(pki.server, { portUnification: 'true' }));
  const cluster = await makeCluster(3, unified, (id) => logs.logger(id));
  t.after(() => cluster.close());
  await cluster.start(1);
  await cluster.start(2);
  // Member 3 does not speak TLS yet; it still has the stores, for the TLS connections it accepts.
  await startMember(cluster, 3, { ...unified, sslQuorum: false }, logs.logger(3));
  await waitForRoles(cluster, 30_000);
  const client = await connect(cluster.connectString, { sessionTimeoutMs: 10_000 });
  t.after(() => client.close());
  for (let i = 0; i < 10; i++) await client.create(`/u${i}`, `${i}`);
  await syncAll(cluster);
  const servers = running(cluster);
  assertTreesEqual(servers.map((s) => s.server.tree), servers.map((s) => `server in mode ${s.server.mode}`));
});

// ---- mixed with Apache ZooKeeper ----------------------------------------------------------------

test('sslQuorum with ZooKeeper 3.8: 2 ZooKeeper + 1 Paddock (Paddock leads), and 1 ZooKeeper + 2 Paddock (ZooKeeper leads, then is killed)', { skip: zkSkip, timeout: 300_000 }, async (t) => {
  const lines = quorumTlsLines(pki.server);
  const tlsConfig = quorumTlsConfig(lines);
  const zkExtra = { config: lines, classpath: [NETTY_CODEC_JAR] };

  await t.test('2 ZooKeeper + 1 Paddock', async (t2) => {
    const members = await quorumPorts(3);
    // Paddock and one ZooKeeper server first (neither has a quorum alone, so the highest sid,
    // Paddock's, wins); the second ZooKeeper server then joins the Paddock leader.
    const zk = [startZooKeeperPeer(1n, members, TICK_MS_ZK, undefined, zkExtra)];
    const paddock = await startServer({ ...memberConfig(members, 3, TICK_MS_ZK), ...tlsConfig }, { quorumStore: new MemoryLearnerStore(), logger: new Logs().logger(3) });
    t2.after(async () => {
      await paddock.close();
      for (const z of zk) await z.stop();
    });
    assert.equal(await waitForMode(zk[0]!, 90_000), 'follower');
    assert.equal(paddock.server.mode, 'leader', 'Paddock (the highest sid) leads');
    zk.push(startZooKeeperPeer(2n, members, TICK_MS_ZK, undefined, zkExtra));
    assert.equal(await waitForMode(zk[1]!, 90_000), 'follower');
    if (ZOOKEEPER_LOGS) assert.match(zk[0]!.output(), /SSL handshake complete|Accepted TLS connection/, 'ZooKeeper\'s log shows TLS between the servers');
    await exerciseAll(members, 'two-zk');
  });

  await t.test('1 ZooKeeper + 2 Paddock', async (t2) => {
    const members = await quorumPorts(3);
    const logs = new Logs();
    const paddocks: PaddockServer[] = [];
    const zk: ZooKeeperPeer = startZooKeeperPeer(3n, members, TICK_MS_ZK, undefined, zkExtra);
    t2.after(async () => {
      for (const p of paddocks) await p.close();
      await zk.stop();
    });
    // ZooKeeper and one Paddock member first: neither has a quorum alone, so the highest sid,
    // ZooKeeper's, wins; the second Paddock member then joins the ZooKeeper leader.
    paddocks.push(await startServer({ ...memberConfig(members, 1, TICK_MS_ZK), ...tlsConfig }, { quorumStore: new MemoryLearnerStore(), logger: logs.logger(1) }));
    const zkMode = await waitForMode(zk, 90_000);
    assert.equal(zkMode, 'leader', 'ZooKeeper (the highest sid) leads');
    paddocks.push(await startServer({ ...memberConfig(members, 2, TICK_MS_ZK), ...tlsConfig }, { quorumStore: new MemoryLearnerStore(), logger: logs.logger(2) }));
    for (const p of paddocks) await waitForServing(p, 60_000);
    t2.diagnostic(`ZooKeeper ${zkMode}, Paddock ${paddocks.map((p) => p.server.mode).join(', ')}`);
    assert.deepEqual(paddocks.map((p) => p.server.mode), ['follower', 'follower']);
    await exerciseAll(members, 'one-zk');

    // Kill the ZooKeeper leader: the two Paddock members elect one of them over TLS and serve on.
    const looked = paddocks.map((p) => waitForNewRole(p, 60_000));
    await zk.kill();
    const roles = await Promise.all(looked);
    assert.deepEqual(roles.sort(), ['follower', 'leader']);
    await exerciseAll(members.slice(0, 2), 'after-zk');
  });
});

// ---- helpers ----------------------------------------------------------------------------------

function memberConfig(members: readonly QuorumMemberPorts[], id: number, tickTime = TICK_MS): Partial<ServerConfig> {
  return {
    serverId: id,
    servers: members.map((m) => ({
      id: Number(m.sid), host: m.host, quorumPort: m.quorumPort, electionPort: m.electionPort,
      addresses: [{ host: m.host, quorumPort: m.quorumPort, electionPort: m.electionPort }], type: 'participant', clientPortAddress: null, clientPort: null,
    })),
    clientPort: members[id - 1]!.clientPort,
    clientPortAddress: '127.0.0.1',
    tickTime,
    initLimit: tickTime === TICK_MS ? 25 : 100,
    syncLimit: 10,
    sessionPasswords: 'zookeeper',
  };
}

/** Starts cluster member `id` with a config of its own (in place of the cluster's). */
async function startMember(cluster: Cluster, id: number, extra: Partial<ServerConfig>, logger: Logger): Promise<PaddockServer> {
  const m = cluster.members[id - 1]!;
  const server = await startServer({
    serverId: id, servers: cluster.servers, clientPort: m.clientPort, clientPortAddress: '127.0.0.1', tickTime: TICK_MS,
    initLimit: 25, syncLimit: 10, sessionPasswords: 'zookeeper', ...extra,
  }, { quorumStore: new MemoryLearnerStore(), logger });
  m.server = server;
  return server;
}

/** A sync through each running member brings it to the leader's commit point. */
async function syncAll(cluster: Cluster): Promise<void> {
  for (const m of cluster.members.filter((x) => x.server !== null)) {
    const c = await connect(`127.0.0.1:${m.clientPort}`, { sessionTimeoutMs: 10_000 });
    try {
      await c.sync('/');
    } finally {
      await c.close();
    }
  }
}

/** Writes through every member, then compares the trees read back through each. */
async function exerciseAll(members: readonly QuorumMemberPorts[], tag: string): Promise<void> {
  const clients: ZooKeeperClient[] = [];
  try {
    for (const m of members) clients.push(await connect(`127.0.0.1:${m.clientPort}`, { sessionTimeoutMs: 10_000 }));
    await clients[0]!.create(`/${tag}`, tag);
    await Promise.all(clients.map((c, i) => c.create(`/${tag}/n${i}`, `from ${i}`)));
    await Promise.all(clients.map((c) => c.create(`/${tag}/seq-`, '', { mode: 'persistentSequential' })));
    await clients.at(-1)!.setData(`/${tag}/n0`, 'changed elsewhere');
    const trees = [];
    for (const c of clients) {
      await c.sync('/');
      trees.push(await readTree(c));
    }
    assert.equal(trees[0]!.get(`/${tag}/n0`)?.data, hex('changed elsewhere'));
    for (let i = 1; i < trees.length; i++) assertSameTree(trees[0]!, trees[i]!, `${tag}: servers 1 and ${i + 1}`);
  } finally {
    for (const c of clients) await c.close();
  }
}

/** Resolves once a member serves as leader or follower. */
function waitForServing(server: PaddockServer, timeoutMs: number): Promise<void> {
  const serving = (): boolean => server.server.mode === 'leader' || server.server.mode === 'follower';
  if (serving()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not serving within ${timeoutMs} ms (${server.server.mode})`)), timeoutMs);
    const onMode = (): void => {
      if (!serving()) return;
      clearTimeout(timer);
      server.peer!.off('mode', onMode);
      resolve();
    };
    server.peer!.on('mode', onMode);
  });
}

/** Resolves with the member's role once it has looked for a leader again and found one. */
function waitForNewRole(server: PaddockServer, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let looked = false;
    const timer = setTimeout(() => reject(new Error(`no new role within ${timeoutMs} ms (${server.server.mode})`)), timeoutMs);
    const onMode = (mode: string): void => {
      if (mode === 'looking') looked = true;
      if (!looked || (mode !== 'leader' && mode !== 'follower')) return;
      clearTimeout(timer);
      server.peer!.off('mode', onMode);
      resolve(mode);
    };
    server.peer!.on('mode', onMode);
  });
}

/** A TLS handshake as a member would make it (its certificate, the CA): resolves with the protocol. */
function tlsHandshake(port: number, who: Identity): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(pki.caPem), key: readFileSync(who.key), cert: readFileSync(who.cert) });
    socket.once('secureConnect', () => {
      const protocol = socket.getProtocol() ?? '';
      socket.destroy();
      resolve(protocol);
    });
    socket.once('error', reject);
  });
}

function once(socket: Socket, event: 'data' | 'close'): Promise<Buffer> {
  return withTimeout(new Promise((resolve) => socket.once(event, (d?: Buffer) => resolve(d ?? Buffer.alloc(0)))), 10_000, `no ${event}`);
}

/** Node data as readTree gives it. */
function hex(text: string): string {
  return Buffer.from(text).toString('hex');
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    promise.then((v) => {
      clearTimeout(timer);
      resolve(v);
    }, reject);
  });
}
