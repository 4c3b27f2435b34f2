/**
 * `addauth x509 ...` as ZooKeeper 3.8's X509AuthenticationProvider.handleAuthentication answers
 * it: OK on a TLS connection that presented a (verified) client certificate, re-adding the id the
 * certificate gave, whatever the credentials say; AUTHFAILED, and the connection closed, on one
 * without. Run against Paddock and against ZooKeeper 3.8 configured the same way (TLS port,
 * ssl.clientAuth=want, PKCS12 stores), with node's TLS client speaking the protocol.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Err, OpCode } from '../../src/jute/constants.js';
import { RawClient } from '../support/rawclient.js';
import { skipUnless } from '../support/clients.js';
import { zookeeperMissing } from '../support/zookeeper.js';
import { clientTls, keytoolMissing, makePki, opensslMissing, startTlsPaddock, startTlsZooKeeper, x509TlsLines, type Identity, type Pki } from './pki.js';

const skip = skipUnless(opensslMissing(), keytoolMissing());
let pki: Pki;

before(() => {
  if (!skip) pki = makePki();
});
after(() => pki?.remove());

const tlsLines = (): Record<string, string> => x509TlsLines(pki, { 'ssl.clientAuth': 'want' });

interface Target {
  securePort: number;
  stop(): Promise<void>;
}

async function startPaddockTarget(): Promise<Target> {
  const p = await startTlsPaddock(pki, tlsLines());
  return { securePort: p.server.securePort, stop: p.stop };
}

async function startZooKeeperTarget(): Promise<Target> {
  return startTlsZooKeeper(tlsLines());
}

/** What a TLS connection (with `who`'s certificate or none) sees: addauth x509, then whoami and a read. */
async function addauthX509(target: Target, who: Identity | null): Promise<string[]> {
  const c = await RawClient.connect('127.0.0.1', target.securePort, { timeoutMs: 20_000, tls: clientTls(pki, who) });
  const lines: string[] = [];
  try {
    const auth = await c.send({ type: OpCode.auth, authType: 0, scheme: 'x509', auth: Buffer.from('anything at all') });
    lines.push(`addauth: ${auth.header.err}`);
    const who = await c.send({ type: OpCode.whoAmI }).catch(() => null);
    const ids = who === null ? 'closed' : (who.body as { clientInfo: { authScheme: string; user: string }[] }).clientInfo.map((i) => `${i.authScheme}:${i.user}`).sort().join(' ');
    lines.push(`whoami: ${ids}`);
    if (who === null) await c.closed;
  } finally {
    c.destroy();
  }
  return lines;
}

test('addauth x509: OK with a client certificate (the id it gave, once), AUTHFAILED and closed without; as ZooKeeper 3.8', { skip, timeout: 120_000 }, async (t) => {
  const expected = {
    withCertificate: ['addauth: 0', `whoami: ip:127.0.0.1 x509:${pki.client.subject}`],
    without: [`addauth: ${Err.AUTHFAILED}`, 'whoami: closed'],
  };
  const targets: Array<[string, () => Promise<Target>]> = [['paddock', startPaddockTarget]];
  if (zookeeperMissing() === null) targets.push(['zookeeper', startZooKeeperTarget]);
  else if (process.env.CI) throw new Error(`required under CI: ${zookeeperMissing()}`);
  else t.diagnostic(`ZooKeeper side skipped: ${zookeeperMissing()}`);
  for (const [name, start] of targets) {
    const target = await start();
    try {
      assert.deepEqual(await addauthX509(target, pki.client), expected.withCertificate, name);
      assert.deepEqual(await addauthX509(target, null), expected.without, name);
    } finally {
      await target.stop();
    }
  }
});
