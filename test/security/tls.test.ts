/**
 * Issue 15 items 1 and 2: the TLS client port and x509 identities, with node's TLS client
 * speaking ZooKeeper's protocol (test/support/rawclient.ts). Wrong certificates, expired ones,
 * plaintext on the TLS port and TLS on the plain port are each refused, and the server keeps
 * serving others. Real Java and Python clients are in tls-clients.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';
import { Err, OpCode, Perm } from '../../src/jute/constants.js';
import { NETTY_CNXN_FACTORY, type ServerConfig } from '../../src/config/config.js';
import { opensslCipherName, opensslCiphers } from '../../src/server/tls.js';
import { RawClient } from '../support/rawclient.js';
import { startPaddock, type PaddockProcess } from '../support/paddock.js';
import { fourLetterWord } from '../support/zookeeper.js';
import { skipUnless } from '../support/clients.js';
import { clientTls, keytoolMissing, makePki, opensslMissing, STORE_PASSWORD, type Identity, type Pki } from './pki.js';

const skip = skipUnless(opensslMissing(), keytoolMissing());
let pki: Pki;

before(() => {
  if (!skip) pki = makePki();
});
after(() => pki?.remove());

/** The ssl.* settings of a server using the PEM stores. */
function pemSsl(extra: Record<string, string> = {}): Map<string, string> {
  return new Map(Object.entries({ 'keyStore.location': pki.server.keyStorePem, 'trustStore.location': pki.caPem, ...extra }));
}

function startTls(overrides: Partial<ServerConfig> = {}): Promise<PaddockProcess> {
  return startPaddock({ secureClientPort: 0, secureClientPortAddress: '127.0.0.1', serverCnxnFactory: NETTY_CNXN_FACTORY, ssl: pemSsl(), ...overrides });
}

function connectTls(p: PaddockProcess, who: Identity | null): Promise<RawClient> {
  return RawClient.connect('127.0.0.1', p.server.securePort, { timeoutMs: 10_000, tls: clientTls(pki, who) });
}

/** Resolves with how a connection attempt ended: 'connected', or the error's message. */
async function attempt(p: PaddockProcess, who: Identity | null): Promise<string> {
  try {
    const c = await connectTls(p, who);
    // TLS 1.3 reports a refused client certificate only after the handshake: ask something.
    await c.send({ type: OpCode.exists, path: '/', watch: false });
    c.close();
    return 'connected';
  } catch (err) {
    return (err as Error).message;
  }
}

/** The server still serves: a plain client (when there is a plain port) and a trusted TLS client. */
async function stillServes(p: PaddockProcess): Promise<void> {
  const c = await connectTls(p, pki.client);
  const r = await c.send({ type: OpCode.exists, path: '/', watch: false });
  assert.equal(r.header.err, Err.OK);
  c.close();
  if (p.port !== 0) assert.match(await fourLetterWord(p.port, 'ruok'), /imok/);
}

test('a trusted client certificate connects and gets its x509 identity; an x509 ACL admits it alone', { skip }, async () => {
  const p = await startTls();
  try {
    const owner = await connectTls(p, pki.client);
    const who = await owner.send({ type: OpCode.whoAmI });
    assert.deepEqual((who.body as { clientInfo: { authScheme: string; user: string }[] }).clientInfo.map((i) => `${i.authScheme}:${i.user}`).sort(),
      ['ip:127.0.0.1', `x509:${pki.client.subject}`]);
    const acl = [{ perms: Perm.ALL, id: { scheme: 'x509', id: pki.client.subject } }];
    const created = await owner.send({ type: OpCode.create, path: '/mine', data: Buffer.from('secret'), acl, flags: 0, ttl: -1 });
    assert.equal(created.header.err, Err.OK);
    const viaAuth = await owner.send({ type: OpCode.create, path: '/auth', data: null, acl: [{ perms: Perm.ALL, id: { scheme: 'auth', id: '' } }], flags: 0, ttl: -1 });
    assert.equal(viaAuth.header.err, Err.OK, "the 'auth' scheme expands to the x509 id");
    const stored = await owner.send({ type: OpCode.getACL, path: '/auth' });
    assert.deepEqual((stored.body as { acl: unknown[] }).acl, [{ perms: Perm.ALL, id: { scheme: 'x509', id: pki.client.subject } }]);
    const mine = await owner.send({ type: OpCode.getData, path: '/mine', watch: false });
    assert.equal((mine.body as { data: Buffer }).data.toString(), 'secret');

    const stranger = await connectTls(p, pki.other);
    const denied = await stranger.send({ type: OpCode.getData, path: '/mine', watch: false });
    assert.equal(denied.header.err, Err.NOAUTH);
    const plain = await RawClient.connect('127.0.0.1', p.port);
    assert.equal((await plain.send({ type: OpCode.getData, path: '/mine', watch: false })).header.err, Err.NOAUTH);
    const bad = await owner.send({ type: OpCode.create, path: '/bad', data: null, acl: [{ perms: Perm.ALL, id: { scheme: 'x509', id: 'no equals sign' } }], flags: 0, ttl: -1 });
    assert.equal(bad.header.err, Err.INVALIDACL);
    for (const c of [owner, stranger, plain]) c.close();
  } finally {
    await p.stop();
  }
});

test('X509AuthenticationProvider.superUser passes every ACL', { skip }, async () => {
  const p = await startTls({ x509SuperUser: pki.other.subject });
  try {
    const owner = await connectTls(p, pki.client);
    const acl = [{ perms: Perm.ALL, id: { scheme: 'x509', id: pki.client.subject } }];
    assert.equal((await owner.send({ type: OpCode.create, path: '/locked', data: Buffer.from('x'), acl, flags: 0, ttl: -1 })).header.err, Err.OK);
    const superUser = await connectTls(p, pki.other);
    assert.equal((await superUser.send({ type: OpCode.getData, path: '/locked', watch: false })).header.err, Err.OK);
    assert.equal((await superUser.send({ type: OpCode.delete, path: '/locked', version: -1 })).header.err, Err.OK);
    owner.close();
    superUser.close();
  } finally {
    await p.stop();
  }
});

test('wrong CA, expired, missing certificates and plaintext on the TLS port are refused; others go on', { skip }, async () => {
  const p = await startTls();
  try {
    assert.notEqual(await attempt(p, pki.stranger), 'connected', 'a certificate from an untrusted CA');
    assert.notEqual(await attempt(p, pki.expired), 'connected', 'an expired certificate');
    assert.notEqual(await attempt(p, null), 'connected', 'no certificate with ssl.clientAuth=need');
    await assert.rejects(RawClient.connect('127.0.0.1', p.server.securePort, { handshakeTimeoutMs: 10_000 }), /closed|reset|ECONNRESET/, 'plaintext on the TLS port');
    // TLS on the plain port: the first bytes read as a frame far above jute.maxbuffer.
    await assert.rejects(RawClient.connect('127.0.0.1', p.port, { handshakeTimeoutMs: 10_000, tls: clientTls(pki, pki.client) }));
    await stillServes(p);
    const mntr = await fourLetterWord(p.port, 'mntr');
    assert.match(mntr, /^zk_unsuccessful_handshake\t[1-9]/m);
    assert.match(mntr, /^zk_auth_failed_count\t[1-9]/m);
  } finally {
    await p.stop();
  }
});

test('ssl.clientAuth=want: no certificate is fine (no x509 id), an untrusted one is refused', { skip }, async () => {
  const p = await startTls({ ssl: pemSsl({ clientAuth: 'want' }) });
  try {
    const anonymous = await connectTls(p, null);
    const who = await anonymous.send({ type: OpCode.whoAmI });
    assert.deepEqual((who.body as { clientInfo: { authScheme: string }[] }).clientInfo.map((i) => i.authScheme), ['ip']);
    anonymous.close();
    assert.notEqual(await attempt(p, pki.stranger), 'connected');
    assert.equal(p.server.server.stats.limitCounters.get('tls_client_certificates_refused'), 1);
    await stillServes(p);
  } finally {
    await p.stop();
  }
});

test('ssl.clientAuth=none: no certificate asked, none needed', { skip }, async () => {
  const p = await startTls({ ssl: pemSsl({ clientAuth: 'none' }) });
  try {
    assert.equal(await attempt(p, null), 'connected');
    const c = await connectTls(p, pki.client);
    const who = await c.send({ type: OpCode.whoAmI });
    assert.deepEqual((who.body as { clientInfo: { authScheme: string }[] }).clientInfo.map((i) => i.authScheme), ['ip'], 'a certificate not asked for gives no id');
    c.close();
  } finally {
    await p.stop();
  }
});

test('client.portUnification: TLS, plain clients and four-letter words share the client port', { skip }, async () => {
  const p = await startPaddock({ clientPortUnification: true, ssl: pemSsl() });
  try {
    const secure = await RawClient.connect('127.0.0.1', p.port, { tls: clientTls(pki, pki.client) });
    const who = await secure.send({ type: OpCode.whoAmI });
    assert.ok((who.body as { clientInfo: { authScheme: string }[] }).clientInfo.some((i) => i.authScheme === 'x509'));
    const plain = await RawClient.connect('127.0.0.1', p.port);
    assert.equal((await plain.send({ type: OpCode.exists, path: '/', watch: false })).header.err, Err.OK);
    assert.match(await fourLetterWord(p.port, 'ruok'), /imok/);
    secure.close();
    plain.close();
  } finally {
    await p.stop();
  }
});

test('zoo.cfg with PKCS12 stores made by keytool, a password file, and secureClientPort alone', { skip }, async () => {
  const passwordFile = join(pki.dir, 'trust.password');
  writeFileSync(passwordFile, `${STORE_PASSWORD}\n`);
  const { config } = parseZooCfg([
    `dataDir=${pki.dir}/data`, 'secureClientPort=2281', 'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
    `ssl.keyStore.location=${pki.server.keyStoreP12}`, `ssl.keyStore.password=${STORE_PASSWORD}`,
    `ssl.trustStore.location=${pki.trustStoreP12}`, `ssl.trustStore.passwordPath=${passwordFile}`, 'ssl.trustStore.type=PKCS12',
    'ssl.enabledProtocols=TLSv1.2,TLSv1.3', 'zookeeper.ssl.ciphersuites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256',
  ].join('\n'), { baseDir: pki.dir });
  assert.equal(config.clientPortEnabled, false, 'no clientPort: no plain port');
  const p = await startPaddock({ ...config, secureClientPort: 0, secureClientPortAddress: '127.0.0.1', clientPort: 0 });
  try {
    assert.equal(p.server.port, 0);
    const c = await connectTls(p, pki.client);
    assert.equal((c.socket as import('node:tls').TLSSocket).getCipher().standardName.startsWith('TLS_'), true);
    assert.equal((await c.send({ type: OpCode.exists, path: '/', watch: false })).header.err, Err.OK);
    c.close();
  } finally {
    await p.stop();
  }
});

test('bad stores stop the start with a message naming the setting; JKS says how to convert', { skip }, async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'trustStore.location': pki.trustStoreJks, 'trustStore.password': STORE_PASSWORD }, /JKS store.*keytool -importkeystore .*-srcstoretype JKS .*-deststoretype PKCS12/],
    [{ 'keyStore.location': pki.server.keyStoreP12, 'keyStore.password': 'wrong' }, /ssl\.keyStore.*mac verify failure/],
    [{ 'trustStore.location': pki.trustStoreP12, 'trustStore.password': 'wrong' }, /ssl\.trustStore\.location .*password/],
    [{ 'keyStore.location': join(pki.dir, 'missing.pem') }, /cannot read ssl\.keyStore\.location .*missing\.pem/],
    [{ 'keyStore.location': pki.caPem }, /holds no private key/],
    [{ protocol: 'SSLv3' }, /invalid ssl\.protocol 'SSLv3'/],
    [{ ciphersuites: 'TLS_NOT_A_SUITE' }, /invalid ssl\.ciphersuites: TLS_NOT_A_SUITE/],
  ];
  for (const [settings, message] of cases) {
    await assert.rejects(startTls({ ssl: pemSsl(settings) }), message, JSON.stringify(settings));
  }
  assert.throws(() => parseZooCfg(`dataDir=/d\nclientPort=2181\nssl.clientAuth=sometimes`, { baseDir: '/' }), /invalid ssl\.clientAuth 'sometimes'/);
  assert.throws(() => parseZooCfg(`dataDir=/d\nclientPort=2181\nssl.ocsp=true`, { baseDir: '/' }), /ssl\.ocsp=true: Paddock does not check certificate revocation/);
});

test('client.certReload: a new trust store is used by new connections once its file changes', { skip }, async () => {
  const trust = join(pki.dir, 'reload-trust.pem');
  copyFileSync(pki.caPem, trust);
  const p = await startTls({ clientCertReload: true, ssl: pemSsl({ 'trustStore.location': trust }) });
  try {
    assert.notEqual(await attempt(p, pki.stranger), 'connected', 'the other CA is not trusted yet');
    const reloaded = new Promise<Error | null>((resolve) => p.server.onTlsReload!(resolve));
    writeFileSync(trust, readFileSync(pki.caPem, 'utf8') + readFileSync(pki.otherCaPem, 'utf8'));
    assert.equal(await reloaded, null);
    const stranger = await RawClient.connect('127.0.0.1', p.server.securePort, { tls: { ...clientTls(pki, pki.stranger) } });
    assert.equal((await stranger.send({ type: OpCode.exists, path: '/', watch: false })).header.err, Err.OK);
    stranger.close();
    // A broken file is reported and the stores in use stay.
    const failed = new Promise<Error | null>((resolve) => p.server.onTlsReload!(resolve));
    writeFileSync(trust, 'not a certificate\n');
    assert.match(String(await failed), /holds no certificate/);
    await stillServes(p);
  } finally {
    await p.stop();
  }
});

test('a silent or garbage-sending TLS connection does not hold the port', { skip }, async () => {
  const p = await startTls({ sessionlessCnxnTimeoutMs: 500 });
  try {
    const silent = netConnect({ host: '127.0.0.1', port: p.server.securePort });
    const closed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
    silent.on('error', () => undefined);
    await closed;
    const garbage = tlsConnect({ host: '127.0.0.1', port: p.server.securePort, ...clientTls(pki, pki.client) });
    garbage.on('error', () => undefined);
    await new Promise<void>((resolve) => garbage.once('secureConnect', () => resolve()));
    garbage.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    await new Promise<void>((resolve) => garbage.on('close', () => resolve()));
    await stillServes(p);
  } finally {
    await p.stop();
  }
});

test('ssl.protocol, ssl.enabledProtocols and ssl.ciphersuites decide what a client may negotiate', { skip }, async () => {
  const negotiate = async (p: PaddockProcess, extra: import('node:tls').ConnectionOptions): Promise<string> => {
    try {
      const c = await RawClient.connect('127.0.0.1', p.server.securePort, { tls: { ...clientTls(pki, pki.client), ...extra } });
      const socket = c.socket as import('node:tls').TLSSocket;
      const what = `${socket.getProtocol()} ${socket.getCipher().standardName}`;
      c.close();
      return what;
    } catch {
      return 'refused';
    }
  };
  const byDefault = await startTls();
  try {
    assert.match(await negotiate(byDefault, {}), /^TLSv1\.2 /, "ZooKeeper 3.8's default protocol is TLSv1.2 alone");
    assert.equal(await negotiate(byDefault, { minVersion: 'TLSv1.3' }), 'refused');
  } finally {
    await byDefault.stop();
  }
  const tls13 = await startTls({ ssl: pemSsl({ enabledProtocols: 'TLSv1.3' }) });
  try {
    assert.match(await negotiate(tls13, {}), /^TLSv1\.3 /);
    assert.equal(await negotiate(tls13, { maxVersion: 'TLSv1.2' }), 'refused');
  } finally {
    await tls13.stop();
  }
  const oneSuite = await startTls({ ssl: pemSsl({ ciphersuites: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384' }) });
  try {
    assert.equal(await negotiate(oneSuite, {}), 'TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
    assert.equal(await negotiate(oneSuite, { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }), 'refused');
  } finally {
    await oneSuite.stop();
  }
});

test('Java cipher suite names map to OpenSSL names', () => {
  const cases: [string, string][] = [
    ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'],
    ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
    ['TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'ECDHE-RSA-AES128-SHA'],
    ['TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384', 'ECDHE-RSA-AES256-SHA384'],
    ['TLS_DHE_RSA_WITH_AES_128_GCM_SHA256', 'DHE-RSA-AES128-GCM-SHA256'],
    ['TLS_RSA_WITH_AES_128_GCM_SHA256', 'AES128-GCM-SHA256'],
    ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
    ['TLS_AES_256_GCM_SHA384', 'TLS_AES_256_GCM_SHA384'],
    ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'],
  ];
  for (const [java, openssl] of cases) assert.equal(opensslCipherName(java), openssl, java);
  assert.equal(opensslCiphers('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256'), 'ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256');
});
