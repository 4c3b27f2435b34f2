/**
 * Issue 15 items 1 and 2 with real clients nobody here wrote: zkCli (ZooKeeper's Java client
 * with Netty, keystores made by keytool and openssl) and kazoo with use_ssl, against Paddock
 * and against Apache ZooKeeper 3.8 started from the same zoo.cfg lines. Both servers must
 * answer both clients the same way: x509 identities, x509 ACLs, and the same refusals (a
 * certificate from another CA, an expired one, plaintext on the TLS port, TLS on the plain port).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

import { fileURLToPath } from 'node:url';
import { kazooMissing, skipUnless, zkCliMissing } from '../support/clients.js';
import { NETTY_CODEC_JAR, skipUnlessZooKeeper, ZK_CLASSPATH } from '../support/zookeeper.js';

/** The Netty client also needs the resolver, which zookeeper.jar's Class-Path lacks too. */
const NETTY_RESOLVER_JAR = '/usr/share/java/netty-resolver.jar';
import { runPythonScenario } from '../compat/python.js';
import { keytoolMissing, makePki, opensslMissing, startTlsPaddock, startTlsZooKeeper, STORE_PASSWORD, x509TlsLines, type Pki } from './pki.js';

const skip = skipUnlessZooKeeper() || skipUnless(opensslMissing(), keytoolMissing(), zkCliMissing(), kazooMissing());
const KAZOO_SCRIPT = fileURLToPath(new URL('../../../test/security/kazoo_tls.py', import.meta.url));
let pki: Pki;

before(() => {
  if (!skip) pki = makePki();
});
after(() => pki?.remove());

/** The zoo.cfg lines of the TLS port, as ZooKeeper's admin guide writes them (PKCS12 stores). */
const tlsLines = (): Record<string, string> => x509TlsLines(pki);

interface Target {
  name: string;
  port: number;
  securePort: number;
  stop(): Promise<void>;
}

async function startPaddockTarget(): Promise<Target> {
  const p = await startTlsPaddock(pki, tlsLines());
  return { name: 'paddock', port: p.port, securePort: p.server.securePort, stop: p.stop };
}

async function startZooKeeperTarget(): Promise<Target> {
  return { name: 'zookeeper', ...(await startTlsZooKeeper(tlsLines())) };
}

/** One zkCli command over TLS with the client's PKCS12 key store; its output without log lines. */
function zkCli(port: number, keyStore: string, ...command: string[]): Promise<string> {
  const props = {
    'zookeeper.clientCnxnSocket': 'org.apache.zookeeper.ClientCnxnSocketNetty',
    'zookeeper.client.secure': 'true',
    'zookeeper.ssl.keyStore.location': keyStore,
    'zookeeper.ssl.keyStore.password': STORE_PASSWORD,
    'zookeeper.ssl.trustStore.location': pki.trustStoreP12,
    'zookeeper.ssl.trustStore.password': STORE_PASSWORD,
    'zookeeper.root.logger': 'ERROR,CONSOLE',
  };
  const args = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx128m', ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`),
    '-cp', `${ZK_CLASSPATH}:${NETTY_CODEC_JAR}:${NETTY_RESOLVER_JAR}`, 'org.apache.zookeeper.ZooKeeperMain', '-waitforconnection', '-timeout', '30000', '-server', `127.0.0.1:${port}`, ...command];
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(out.split('\n').filter((l) => l !== '' && !/^\d{4}-\d\d-\d\d |log4j|^SLF4J|^\s+at |^WATCHER::|^WatchedEvent state:SyncConnected|^Connecting to/.test(l)).join('\n'));
    });
  });
}

/** The same session with both clients: zkCli creates and asks who it is, kazoo sets x509 ACLs, zkCli reads them. */
async function transcript(target: Target): Promise<string[]> {
  const lines: string[] = [];
  lines.push(`zkCli create: ${await zkCli(target.securePort, pki.client.keyStoreP12, 'create', '/tls-zkcli', 'hello')}`);
  lines.push(`zkCli whoami: ${await zkCli(target.securePort, pki.client.keyStoreP12, 'whoami')}`);
  const kazoo = await runPythonScenario(KAZOO_SCRIPT, [
    `127.0.0.1:${target.securePort}`, pki.caPem, pki.other.cert, pki.other.key, pki.client.subject, pki.stranger.cert, pki.stranger.key,
    pki.expired.cert, pki.expired.key, `127.0.0.1:${target.port}`,
  ]);
  lines.push(...kazoo.map((l) => `kazoo: ${l}`));
  lines.push(`zkCli get /owned: ${await zkCli(target.securePort, pki.client.keyStoreP12, 'get', '/owned')}`);
  lines.push(`zkCli get /kz: ${await zkCli(target.securePort, pki.client.keyStoreP12, 'get', '/kz')}`);
  return lines;
}

test('zkCli (Netty, keytool stores) and kazoo (use_ssl) see the same TLS server in Paddock and ZooKeeper 3.8', { skip, timeout: 300_000 }, async () => {
  const results = new Map<string, string[]>();
  for (const start of [startZooKeeperTarget, startPaddockTarget]) {
    const target = await start();
    try {
      results.set(target.name, await transcript(target));
    } finally {
      await target.stop();
    }
  }
  const zk = results.get('zookeeper')!;
  const paddock = results.get('paddock')!;
  // The reference itself must show what the test is about.
  assert.ok(zk.some((l) => l.startsWith('zkCli whoami: Auth scheme: User') && l.includes(`\nx509: ${pki.client.subject}`)), zk.join('\n'));
  assert.ok(zk.includes('kazoo: NoAuth reading /owned'), zk.join('\n'));
  for (const refusal of ['stranger', 'expired', 'plaintext on the TLS port', 'TLS on the plain port']) assert.ok(zk.includes(`kazoo: ${refusal} refused`), zk.join('\n'));
  assert.ok(zk.includes('kazoo: still serving, /kz: mine'), zk.join('\n'));
  assert.ok(zk.includes('zkCli get /owned: secret'), zk.join('\n'));
  assert.deepEqual(paddock, zk);
});
