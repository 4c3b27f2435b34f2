/**
 * Quorum SASL (quorum.auth.*): the QuorumAuthPacket exchange as state machines, the start-time
 * checks, a Paddock ensemble that requires it (and refuses a member with a wrong password), and
 * mixed ensembles with Apache ZooKeeper 3.8 configured the same way, where each side
 * authenticates to the other as leader and as learner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultAuthConfig, quorumAuthProblem, type AuthConfig } from '../../src/auth/config.js';
import { loadQuorumSasl, loadServerAuth } from '../../src/auth/load.js';
import {
  decodeQuorumAuthPacket, encodeQuorumAuthPacket, QuorumAuthLearner, QuorumAuthServer, QuorumAuthStatus,
  type HandshakeResult, type QuorumSasl,
} from '../../src/auth/quorum-auth.js';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { ConfigError } from '../../src/config/config.js';
import type { Logger } from '../../src/lib/log.js';
import type { ServerConfig } from '../../src/config/config.js';
import { startServer, type PaddockServer } from '../../src/server/index.js';
import { MemoryLearnerStore } from '../../src/server/quorum/learner-driver.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { quorumPorts, startZooKeeperPeer, waitForMode, waitForModes, type QuorumMemberPorts, type ZooKeeperPeer } from '../consensus/zk-quorum.js';
import { makeCluster, startPaddockAmongZooKeepers, TICK_MS, waitForRoles, type Cluster } from '../ensemble/cluster.js';
import { assertSameTree, readTree } from '../ensemble/writer.js';

// ---------------------------------------------------------------------------------------------
// The exchange

const PEERS: QuorumSasl = {
  serverRequired: true,
  learnerRequired: true,
  serverCredentials: new Map([['peer', 'peersecret'], ['zkquorum/zk9.example.com@EXAMPLE.COM', 'k']]),
  authorizedHosts: new Set(['127.0.0.1', 'zk1.example.com']),
  learner: { username: 'peer', password: 'peersecret' },
};
const NONCE = 'OA6MG9tEQGm2hh';
const CNONCE = 'OA6MHXh6VqTrRk';
/** What the learner sends once authenticated: the start of the protocol, which the server must hand on. */
const PROTOCOL = Buffer.from([0, 0, 0, 11, 1, 2, 3, 4, 5, 6, 7, 8]);

interface Outcome {
  server: HandshakeResult | null;
  learner: HandshakeResult | null;
  /** Statuses of the packets the server sent, in order. */
  serverStatuses: number[];
}

/** Plays both sides against each other; `split` feeds every chunk a byte at a time. */
function converse(server: QuorumAuthServer, learner: QuorumAuthLearner, split = false): Outcome {
  const out: Outcome = { server: null, learner: null, serverStatuses: [] };
  const first = learner.start();
  out.learner = first.result;
  let toServer = Buffer.concat([...first.send, ...(first.result?.ok ? [PROTOCOL] : [])]);
  let toLearner = Buffer.alloc(0);
  const feed = <T extends { push(b: Buffer): { send: Buffer[]; result: HandshakeResult | null } }>(side: T, bytes: Buffer) => {
    const chunks = split ? [...bytes].map((b) => Buffer.from([b])) : [bytes];
    const send: Buffer[] = [];
    let result: HandshakeResult | null = null;
    for (const c of chunks) {
      const step = side.push(c);
      send.push(...step.send);
      result ??= step.result;
    }
    return { send: Buffer.concat(send), result };
  };
  for (let round = 0; round < 10 && (out.server === null || out.learner === null); round++) {
    if (toServer.length > 0 && out.server === null) {
      const step = feed(server, toServer);
      toServer = Buffer.alloc(0);
      for (let at = 0; at < step.send.length;) {
        const d = decodeQuorumAuthPacket(step.send.subarray(at))!;
        out.serverStatuses.push(d.packet.status);
        at += d.bytes;
      }
      toLearner = step.send;
      out.server = step.result;
    }
    if (toLearner.length > 0 && out.learner === null) {
      const step = feed(learner, toLearner);
      toLearner = Buffer.alloc(0);
      toServer = Buffer.concat([step.send, ...(step.result?.ok ? [PROTOCOL] : [])]);
      out.learner = step.result;
      if (out.server !== null && step.result?.ok) break;
    } else if (toServer.length === 0) {
      break;
    }
  }
  return out;
}

test('quorum auth packet: magic, status, token (null as -1), no length prefix', () => {
  const p = encodeQuorumAuthPacket(QuorumAuthStatus.SUCCESS, Buffer.from('rspauth=x'));
  assert.equal(p.subarray(0, 8).toString('hex'), '5f2435013501edcc');
  assert.equal(p.readInt32BE(8), 1);
  assert.equal(p.readInt32BE(12), 9);
  const none = encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, null);
  assert.equal(none.length, 16);
  assert.equal(decodeQuorumAuthPacket(none)!.packet.token, null);
  assert.equal(decodeQuorumAuthPacket(p.subarray(0, 20)), null, 'incomplete');
  const huge = Buffer.from(none);
  huge.writeInt32BE(1 << 30, 12);
  assert.throws(() => decodeQuorumAuthPacket(huge), /token of 1073741824 bytes/);
});

test('quorum SASL: the right password authenticates, in whole packets or a byte at a time; the protocol bytes after it are handed on', () => {
  for (const split of [false, true]) {
    const out = converse(new QuorumAuthServer(PEERS, NONCE), new QuorumAuthLearner(PEERS, CNONCE), split);
    assert.deepEqual(out.serverStatuses, [QuorumAuthStatus.IN_PROGRESS, QuorumAuthStatus.SUCCESS]);
    assert.ok(out.learner?.ok);
    assert.ok(out.server?.ok);
    assert.equal(out.server.authenticated, 'peer');
    // The learner sends its first protocol packet only once it saw SUCCESS; nothing of it is eaten.
    const rest = out.server.rest.length > 0 ? out.server.rest : PROTOCOL;
    assert.deepEqual(rest, PROTOCOL);
  }
});

test('quorum SASL: a wrong password is answered ERROR; refused when required, let through (unauthenticated) when not', () => {
  const wrong: QuorumSasl = { ...PEERS, learner: { username: 'peer', password: 'guess' } };
  const refused = converse(new QuorumAuthServer(PEERS, NONCE), new QuorumAuthLearner(wrong, CNONCE));
  assert.deepEqual(refused.serverStatuses, [QuorumAuthStatus.IN_PROGRESS, QuorumAuthStatus.ERROR]);
  assert.equal(refused.server?.ok, false);
  assert.match(refused.server.ok ? '' : refused.server.reason, /mismatched response/);
  assert.equal(refused.learner?.ok, false);
  assert.match(refused.learner.ok ? '' : refused.learner.reason, /refused our credentials/);

  const lenient = converse(new QuorumAuthServer({ ...PEERS, serverRequired: false }, NONCE), new QuorumAuthLearner(wrong, CNONCE));
  assert.ok(lenient.server?.ok);
  assert.equal(lenient.server.authenticated, null);
  assert.match(lenient.server.log ?? '', /keeping the connection/);
  assert.equal(lenient.learner?.ok, false, 'the learner saw ERROR and gives up the connection');

  const unknown = converse(new QuorumAuthServer(PEERS, NONCE), new QuorumAuthLearner({ ...PEERS, learner: { username: 'nobody', password: 'x' } }, CNONCE));
  assert.equal(unknown.server?.ok, false);
});

test('quorum SASL: a learner that does not authenticate is let through unless serverRequireSasl; a server that lies about rspauth is refused', () => {
  const silent: QuorumSasl = { ...PEERS, learnerRequired: false };
  const through = converse(new QuorumAuthServer({ ...PEERS, serverRequired: false }, NONCE), new QuorumAuthLearner(silent, CNONCE));
  assert.ok(through.learner?.ok);
  assert.ok(through.server?.ok);
  assert.deepEqual(through.server.rest, PROTOCOL);
  assert.deepEqual(through.serverStatuses, []);
  const required = converse(new QuorumAuthServer(PEERS, NONCE), new QuorumAuthLearner(silent, CNONCE));
  assert.equal(required.server?.ok, false);
  assert.match(required.server.ok ? '' : required.server.reason, /not trying to authenticate/);

  // A server that does not know the password cannot fake the final rspauth.
  const learner = new QuorumAuthLearner(PEERS, CNONCE);
  learner.start();
  const challenge = new QuorumAuthServer(PEERS, NONCE).push(Buffer.concat(new QuorumAuthLearner(PEERS, CNONCE).start().send)).send[0]!;
  learner.push(challenge);
  const fake = learner.push(encodeQuorumAuthPacket(QuorumAuthStatus.SUCCESS, Buffer.from('rspauth=00000000000000000000000000000000')));
  assert.equal(fake.result?.ok, false);
  assert.match(fake.result.ok ? '' : fake.result.reason, /rspauth does not match/);
  // A GSSAPI learner opens with a token: it gets the DIGEST-MD5 challenge, cannot answer it, and hangs up.
  const gssapi = new QuorumAuthServer(PEERS, NONCE);
  assert.equal(gssapi.push(encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, Buffer.from([0x60, 0x82, 0x02]))).result, null);
  const gone = gssapi.end().result;
  assert.equal(gone?.ok, false);
  assert.match(gone.ok ? '' : gone.reason, /GSSAPI\/Kerberos\? only DIGEST-MD5 is offered/);
  // The server closing mid-exchange fails the learner.
  const cut = new QuorumAuthLearner(PEERS, CNONCE);
  cut.start();
  assert.equal(cut.end().result?.ok, false);
});

test('quorum SASL: a principal name/host@REALM must name a host of the ensemble (SaslQuorumServerCallbackHandler)', () => {
  const as = (username: string, password: string): QuorumSasl => ({ ...PEERS, learner: { username, password } });
  const foreign = converse(new QuorumAuthServer(PEERS, NONCE), new QuorumAuthLearner(as('zkquorum/zk9.example.com@EXAMPLE.COM', 'k'), CNONCE));
  assert.equal(foreign.server?.ok, false);
  assert.match(foreign.server.ok ? '' : foreign.server.reason, /host zk9.example.com is not a member/);
  const members = { ...PEERS, authorizedHosts: new Set(['zk9.example.com']) };
  const member = converse(new QuorumAuthServer(members, NONCE), new QuorumAuthLearner(as('zkquorum/zk9.example.com@EXAMPLE.COM', 'k'), CNONCE));
  assert.ok(member.server?.ok);
});

// ---------------------------------------------------------------------------------------------
// Configuration

const JAAS_GOOD = (password = 'peersecret'): string => `
QuorumServer {
  org.apache.zookeeper.server.auth.DigestLoginModule required
    user_peer="peersecret";
};
QuorumLearner {
  org.apache.zookeeper.server.auth.DigestLoginModule required
    username="peer"
    password="${password}";
};
`;

function writeJaas(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function saslAuth(jaasPath: string, required = true): AuthConfig {
  return {
    ...defaultAuthConfig(),
    jaasConfigPath: jaasPath,
    quorumSaslEnabled: true,
    quorumLearnerRequireSasl: required,
    quorumServerRequireSasl: required,
  };
}

test('quorum SASL settings: ZooKeeper\'s refused combinations, and JAAS sections checked at start', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qsasl-cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = defaultAuthConfig();
  assert.equal(quorumAuthProblem(base), null);
  assert.match(quorumAuthProblem({ ...base, quorumServerRequireSasl: true, quorumLearnerRequireSasl: true }) ?? '', /enableSasl is disabled/);
  assert.match(quorumAuthProblem({ ...base, quorumSaslEnabled: true, quorumServerRequireSasl: true }) ?? '', /learnerRequireSasl is disabled/);
  assert.equal(loadQuorumSasl(base, []), null);

  const good = loadQuorumSasl(saslAuth(writeJaas(dir, 'good.jaas', JAAS_GOOD())), ['127.0.0.1']);
  assert.deepEqual(good?.learner, { username: 'peer', password: 'peersecret' });
  assert.deepEqual([...good!.serverCredentials], [['peer', 'peersecret']]);

  assert.throws(() => loadQuorumSasl({ ...saslAuth(''), jaasConfigPath: null }, []), (e: unknown) => e instanceof ConfigError && /needs a JAAS file/.test(e.message));
  const serverOnly = writeJaas(dir, 'server-only.jaas', 'QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required user_a="b"; };');
  assert.throws(() => loadQuorumSasl(saslAuth(serverOnly), []), /no JAAS configuration section named 'QuorumLearner'/);
  const kerberos = writeJaas(dir, 'krb.jaas', `${JAAS_GOOD().split('QuorumLearner')[0]}QuorumLearner { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };`);
  assert.throws(() => loadQuorumSasl(saslAuth(kerberos), []), /GSSAPI\/Kerberos, which Paddock does not support/);
  const noPassword = writeJaas(dir, 'nopw.jaas', JAAS_GOOD().replace(/password="[^"]*"/, ''));
  assert.throws(() => loadQuorumSasl(saslAuth(noPassword), []), /with both username and password/);
  // A quorum-only file serves clients as without JAAS (ZooKeeper's configureSaslLogin finds no Server section and goes on).
  assert.equal(loadServerAuth(saslAuth(writeJaas(dir, 'quorum-only.jaas', JAAS_GOOD()))).credentials, null);
  assert.throws(() => loadServerAuth({ ...defaultAuthConfig(), jaasConfigPath: join(dir, 'quorum-only.jaas') }), /no JAAS configuration section named 'Server'/);
  const renamed = { ...saslAuth(writeJaas(dir, 'renamed.jaas', JAAS_GOOD().replace('QuorumServer', 'Peers'))), quorumServerLoginContext: 'Peers' };
  assert.ok(loadQuorumSasl(renamed, []));
});

// ---------------------------------------------------------------------------------------------
// Paddock ensembles

/** A logger that keeps warnings and lets a test wait for one. */
class LogCapture extends EventEmitter {
  readonly lines: string[] = [];
  /** Every line, info and debug too, to explain a failure. */
  readonly all: string[] = [];
  readonly logger: Logger = {
    debug: (m) => void this.all.push(`debug ${m}`),
    info: (m) => void this.all.push(`info ${m}`),
    warn: (m) => this.add(m),
    error: (m) => this.add(m),
  };

  private add(m: string): void {
    this.all.push(`warn ${m}`);
    this.lines.push(m);
    this.emit('line', m);
  }

  waitFor(pattern: RegExp, timeoutMs: number): Promise<string> {
    const found = this.lines.find((l) => pattern.test(l));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('line', onLine);
        reject(new Error(`no log line ${pattern} within ${timeoutMs} ms; got:\n${this.lines.slice(-10).join('\n')}`));
      }, timeoutMs);
      const onLine = (m: string): void => {
        if (!pattern.test(m)) return;
        clearTimeout(timer);
        this.off('line', onLine);
        resolve(m);
      };
      this.on('line', onLine);
    });
  }
}

/** Writes through every client, then checks every server serves the same tree. */
async function exercise(clients: readonly ZooKeeperClient[], tag: string): Promise<void> {
  await clients[0]!.create(`/${tag}`, tag);
  await Promise.all(clients.map((c, i) => c.create(`/${tag}/n${i}`, `from ${i}`)));
  await clients.at(-1)!.setData(`/${tag}/n0`, 'changed elsewhere');
  const trees = [];
  for (const c of clients) {
    await c.sync('/');
    assert.equal((await c.getData(`/${tag}/n0`)).data.toString(), 'changed elsewhere');
    trees.push(await readTree(c));
  }
  for (let i = 1; i < trees.length; i++) assertSameTree(trees[0]!, trees[i]!, `${tag}: clients 0 and ${i}`);
}

const connectTo = (port: number): Promise<ZooKeeperClient> => connect(`127.0.0.1:${port}`, { sessionTimeoutMs: 10_000 });

async function closeAll(clients: ZooKeeperClient[]): Promise<void> {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
}

test('3 Paddock members with quorum SASL required elect, sync and serve', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qsasl-paddock-'));
  const logs = [new LogCapture(), new LogCapture(), new LogCapture()];
  const cluster = await makeCluster(3, { auth: saslAuth(writeJaas(dir, 'quorum.jaas', JAAS_GOOD())) }, (id) => logs[id - 1]!.logger);
  const clients: ZooKeeperClient[] = [];
  t.after(async () => {
    await closeAll(clients);
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await Promise.all(cluster.members.map((m) => cluster.start(m.id)));
  await waitForRoles(cluster, 30_000);
  for (const m of cluster.members) clients.push(await connectTo(m.clientPort));
  await exercise(clients, 'sasl');
  assert.deepEqual(logs.flatMap((l) => l.lines.filter((m) => /SASL/.test(m))), [], 'no authentication failed');
});

test('a member whose QuorumLearner password is wrong is refused; the other two elect and serve', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qsasl-wrong-'));
  const logs = [new LogCapture(), new LogCapture(), new LogCapture()];
  const cluster: Cluster = await makeCluster(3, { auth: saslAuth(writeJaas(dir, 'quorum.jaas', JAAS_GOOD())) }, (id) => logs[id - 1]!.logger);
  const clients: ZooKeeperClient[] = [];
  let intruder: PaddockServer | null = null;
  t.after(async () => {
    await closeAll(clients);
    await intruder?.close();
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const third = cluster.members[2]!;
  const wrongJaas = writeJaas(dir, 'wrong.jaas', JAAS_GOOD('not-the-password'));
  const startIntruder = startServer({
    serverId: 3, servers: cluster.servers, clientPort: third.clientPort, clientPortAddress: '127.0.0.1',
    tickTime: TICK_MS, initLimit: 25, syncLimit: 10, sessionPasswords: 'zookeeper', auth: saslAuth(wrongJaas),
  }, { quorumStore: third.store, logger: logs[2]!.logger });
  await Promise.all([cluster.start(1), cluster.start(2), startIntruder.then((s) => void (intruder = s))]);
  await waitForRoles(cluster, 30_000);
  // Server 3 tried (it has the largest id, so it must connect back to both) and was refused.
  await logs[2]!.waitFor(/election connection with server [12]: quorum SASL authentication failed: .*the server refused our credentials/, 30_000);
  await logs[0]!.waitFor(/election connection with server 3: quorum SASL authentication failed: .*mismatched response/, 30_000);
  assert.equal(intruder!.server.mode, 'looking');
  for (const m of cluster.members.slice(0, 2)) clients.push(await connectTo(m.clientPort));
  await exercise(clients, 'without3');
  assert.equal(intruder!.server.mode, 'looking');
});

/** ZooKeeper's rolling enablement: 0 none, 1 enableSasl, 2 + learnerRequireSasl, 3 + serverRequireSasl. */
function stage(n: number, jaasPath: string): AuthConfig {
  if (n === 0) return defaultAuthConfig();
  return { ...saslAuth(jaasPath, false), quorumLearnerRequireSasl: n >= 2, quorumServerRequireSasl: n >= 3 };
}

test('rolling enablement, one member at a time: enableSasl, then learnerRequireSasl, then serverRequireSasl; the ensemble serves throughout', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qsasl-rolling-'));
  const jaas = writeJaas(dir, 'quorum.jaas', JAAS_GOOD());
  const logs = [new LogCapture(), new LogCapture(), new LogCapture()];
  // cluster.start reads `extra` when it starts a member: each restart takes the stage set here.
  const extra: Partial<ServerConfig> = { auth: stage(0, jaas) };
  const cluster = await makeCluster(3, extra, (id) => logs[id - 1]!.logger);
  let client: ZooKeeperClient | null = null;
  t.after(async () => {
    await client?.close().catch(() => undefined);
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await Promise.all(cluster.members.map((m) => cluster.start(m.id)));
  await waitForRoles(cluster, 30_000);
  client = await connect(cluster.connectString, { sessionTimeoutMs: 20_000 });
  await client.create('/rolling', '');
  for (const n of [1, 2, 3]) {
    for (const m of cluster.members) {
      await cluster.stop(m.id);
      extra.auth = stage(n, jaas);
      await cluster.start(m.id);
      await waitForRoles(cluster, 30_000);
      await client.create(`/rolling/stage${n}-member${m.id}`, '');
    }
  }
  assert.equal((await client.getChildren('/rolling')).length, 9);
  assert.deepEqual(logs.flatMap((l) => l.lines.filter((m) => /SASL/.test(m))), [], 'no authentication failed on the way');
});

// ---------------------------------------------------------------------------------------------
// Mixed ensembles with Apache ZooKeeper 3.8

const skip = skipUnlessZooKeeper();
const MIXED_TICK_MS = 500;
const ZK_SASL_CONFIG = ['quorum.auth.enableSasl=true', 'quorum.auth.learnerRequireSasl=true', 'quorum.auth.serverRequireSasl=true'];

function startPaddock(sid: number, members: readonly QuorumMemberPorts[], store: MemoryLearnerStore, jaasPath: string, logger: Logger): Promise<PaddockServer> {
  return startPaddockAmongZooKeepers(members, sid - 1, MIXED_TICK_MS, { auth: saslAuth(jaasPath) }, { quorumStore: store, logger });
}

function startZooKeeperWithSasl(sid: bigint, members: readonly QuorumMemberPorts[], jaasPath: string): ZooKeeperPeer {
  return startZooKeeperPeer(sid, members, MIXED_TICK_MS, undefined, { config: ZK_SASL_CONFIG, jvmFlags: [`-Djava.security.auth.login.config=${jaasPath}`] });
}

function waitForPaddockMode(server: PaddockServer, modes: readonly string[], timeoutMs: number): Promise<string> {
  if (modes.includes(server.server.mode)) return Promise.resolve(server.server.mode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.peer!.off('mode', onMode);
      reject(new Error(`Paddock not ${modes.join('/')} within ${timeoutMs} ms (${server.server.mode})`));
    }, timeoutMs);
    const onMode = (mode: string): void => {
      if (!modes.includes(mode)) return;
      clearTimeout(timer);
      server.peer!.off('mode', onMode);
      resolve(mode);
    };
    server.peer!.on('mode', onMode);
  });
}

test('2 ZooKeeper 3.8 + 1 Paddock, quorum SASL required: ZooKeeper learners authenticate to a Paddock leader, and Paddock to a ZooKeeper leader', { skip, timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qsasl-mixed-'));
  const jaas = writeJaas(dir, 'quorum.jaas', JAAS_GOOD());
  const members = await quorumPorts(3);
  const zk = [startZooKeeperWithSasl(1n, members, jaas), startZooKeeperWithSasl(2n, members, jaas)];
  const store = new MemoryLearnerStore();
  const log = new LogCapture();
  let paddock: PaddockServer | null = null;
  const clients: ZooKeeperClient[] = [];
  t.after(async () => {
    await closeAll(clients);
    await paddock?.close();
    for (const z of zk) await z.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  paddock = await startPaddock(3, members, store, jaas, log.logger);
  const modes = [await waitForMode(zk[0]!, 90_000), await waitForMode(zk[1]!, 90_000)];
  t.diagnostic(`first election: ZooKeeper ${modes.join(', ')}, Paddock ${paddock.server.mode}`);
  for (const z of zk) await z.waitForOutput(/Successfully completed the authentication using SASL/, 10_000);
  for (const m of members) clients.push(await connectTo(m.clientPort));
  await exercise(clients, 'first');

  // Paddock stopped, the ZooKeeper servers elect one of them; Paddock, started again, must
  // authenticate to that leader to follow it.
  await closeAll(clients);
  await paddock.close();
  paddock = null;
  const zkModes = await waitForModes(zk, ['leader', 'follower'], 90_000);
  t.diagnostic(`after Paddock stopped: ZooKeeper ${zkModes.join(', ')}`);
  paddock = await startPaddock(3, members, store, jaas, log.logger);
  await waitForPaddockMode(paddock, ['follower'], 90_000);
  for (const m of members) clients.push(await connectTo(m.clientPort));
  await exercise(clients, 'second');
  assert.deepEqual(log.lines.filter((l) => /SASL/.test(l)), []);
});

test('1 ZooKeeper 3.8 + 2 Paddock, quorum SASL required: one ensemble, the same tree everywhere', { skip, timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qsasl-mixed2-'));
  const jaas = writeJaas(dir, 'quorum.jaas', JAAS_GOOD());
  const members = await quorumPorts(3);
  // ZooKeeper has the largest id: with equal histories it is elected when it votes in time.
  const zk = startZooKeeperWithSasl(3n, members, jaas);
  const logs = [new LogCapture(), new LogCapture()];
  const stores = [new MemoryLearnerStore(), new MemoryLearnerStore()];
  const paddocks: PaddockServer[] = [];
  const clients: ZooKeeperClient[] = [];
  t.after(async () => {
    await closeAll(clients);
    for (const p of paddocks) await p.close();
    await zk.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await zk.waitForOutput(/LOOKING/, 60_000);
  for (const sid of [1, 2]) paddocks.push(await startPaddock(sid, members, stores[sid - 1]!, jaas, logs[sid - 1]!.logger));
  const zkMode = await waitForMode(zk, 90_000);
  const paddockModes = await Promise.all(paddocks.map((p) => waitForPaddockMode(p, ['leader', 'follower'], 90_000)));
  t.diagnostic(`ZooKeeper ${zkMode}, Paddock ${paddockModes.join(', ')}`);
  assert.deepEqual([zkMode, ...paddockModes].filter((m) => m === 'leader').length, 1);
  await zk.waitForOutput(/Successfully completed the authentication using SASL/, 10_000);
  for (const m of members) clients.push(await connectTo(m.clientPort));
  await exercise(clients, 'mixed');
  assert.deepEqual(logs.flatMap((l) => l.lines.filter((m) => /SASL/.test(m))), [], logs.map((l, i) => `Paddock ${i + 1}:\n${l.all.join('\n')}`).join('\n'));
});
