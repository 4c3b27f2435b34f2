/**
 * A throw-away PKI for the TLS tests, made with openssl and keytool as an operator would
 * (docs/security.md shows the same commands): two CAs, a server certificate for 127.0.0.1 and
 * localhost, client certificates (trusted, from the other CA, expired), and the stores ZooKeeper
 * reads: PEM files, PKCS12 key and trust stores, and a JKS one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';
import { startPaddock, startVerifiedZooKeeper, type PaddockProcess } from '../support/paddock.js';
import { freePort } from '../support/ports.js';
import { NETTY_CODEC_JAR } from '../support/zookeeper.js';

export const OPENSSL = '/usr/bin/openssl';
export const KEYTOOL = '/usr/bin/keytool';
export const STORE_PASSWORD = 'changeit';

export function opensslMissing(): string | null {
  return existsSync(OPENSSL) ? null : `openssl is not installed (${OPENSSL}; apt-get install openssl)`;
}

export function keytoolMissing(): string | null {
  return existsSync(KEYTOOL) ? null : `keytool is not installed (${KEYTOOL}; it comes with the JRE)`;
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
}

export interface Identity {
  /** PEM files. */
  key: string;
  cert: string;
  /** key and certificate in one PEM file (ZooKeeper's PEM key store). */
  keyStorePem: string;
  /** PKCS12 key store (password STORE_PASSWORD). */
  keyStoreP12: string;
  /** The subject as the x509 scheme writes it. */
  subject: string;
}

export interface Pki {
  dir: string;
  caPem: string;
  /** A PKCS12 trust store holding the CA, made by keytool. */
  trustStoreP12: string;
  /** The same as JKS, which Paddock refuses. */
  trustStoreJks: string;
  server: Identity;
  /** Trusted client certificates. */
  client: Identity;
  other: Identity;
  /** Signed by a CA the server does not trust. */
  stranger: Identity;
  /** Signed by the trusted CA, but expired in 2020. */
  expired: Identity;
  otherCaPem: string;
  remove(): void;
}

/** Makes the PKI in a new temporary directory (a few seconds: keytool runs a JVM). */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-pki-'));
  const p = (name: string): string => join(dir, name);
  const ossl = (...args: string[]): void => run(OPENSSL, args, dir);
  const ca = (name: string, cn: string): void => {
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`);
  };
  ca('ca', 'Paddock Test CA');
  ca('other-ca', 'Somebody Else CA');
  writeFileSync(p('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const identity = (name: string, subj: string, subject: string, signer = 'ca', expired = false): Identity => {
    ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
    if (expired) signExpired(dir, name);
    else ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', ...(name === 'server' ? ['-extfile', 'server.ext'] : []));
    writeFileSync(p(`${name}-keystore.pem`), readFileSync(p(`${name}.key`), 'utf8') + readFileSync(p(`${name}.pem`), 'utf8'));
    ossl('pkcs12', '-export', '-in', `${name}.pem`, '-inkey', `${name}.key`, '-name', name, '-out', `${name}.p12`, '-passout', `pass:${STORE_PASSWORD}`);
    return { key: p(`${name}.key`), cert: p(`${name}.pem`), keyStorePem: p(`${name}-keystore.pem`), keyStoreP12: p(`${name}.p12`), subject };
  };
  const server = identity('server', '/CN=localhost', 'CN=localhost');
  const client = identity('client', '/O=Paddock Test/CN=zkclient', 'CN=zkclient,O=Paddock Test');
  const other = identity('other', '/CN=other', 'CN=other');
  const stranger = identity('stranger', '/CN=stranger', 'CN=stranger', 'other-ca');
  const expired = identity('expired', '/CN=expired', 'CN=expired', 'ca', true);
  const keytool = (...args: string[]): void => run(KEYTOOL, args, dir);
  keytool('-importcert', '-noprompt', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'truststore.p12', '-storetype', 'PKCS12', '-storepass', STORE_PASSWORD);
  keytool('-importcert', '-noprompt', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'truststore.jks', '-storetype', 'JKS', '-storepass', STORE_PASSWORD);
  return {
    dir, caPem: p('ca.pem'), otherCaPem: p('other-ca.pem'), trustStoreP12: p('truststore.p12'), trustStoreJks: p('truststore.jks'),
    server, client, other, stranger, expired,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `openssl ca` is the one openssl 3.0 command that sets a validity in the past. */
function signExpired(dir: string, name: string): void {
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = test', '[test]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir',
    'serial = $dir/ca.serial', 'default_md = sha256', 'policy = any', 'unique_subject = no', '[any]', 'commonName = supplied', '',
  ].join('\n'));
  writeFileSync(join(dir, 'ca.serial'), '1000\n');
  run(OPENSSL, ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${name}.csr`, '-out', `${name}.pem`,
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext'], dir);
}

/** Options for node:tls (and RawClient) presenting `who`'s certificate and trusting the test CA. */
export function clientTls(pki: Pki, who: Identity | null): { ca: Buffer; key?: Buffer; cert?: Buffer; servername: string } {
  return {
    ca: readFileSync(pki.caPem),
    ...(who === null ? {} : { key: readFileSync(who.key), cert: readFileSync(who.cert) }),
    servername: 'localhost',
  };
}

/** The zoo.cfg lines of a Netty TLS client port with x509 auth, as ZooKeeper's admin guide writes them (PKCS12 stores). */
export function x509TlsLines(pki: Pki, extra: Record<string, string> = {}): Record<string, string> {
  return {
    serverCnxnFactory: 'org.apache.zookeeper.server.NettyServerCnxnFactory',
    'authProvider.x509': 'org.apache.zookeeper.server.auth.X509AuthenticationProvider',
    'ssl.keyStore.location': pki.server.keyStoreP12,
    'ssl.keyStore.password': STORE_PASSWORD,
    'ssl.trustStore.location': pki.trustStoreP12,
    'ssl.trustStore.password': STORE_PASSWORD,
    ...extra,
  };
}

/** A Paddock whose TLS port is configured from `lines` through the zoo.cfg parser, on an ephemeral port. */
export async function startTlsPaddock(pki: Pki, lines: Record<string, string>): Promise<PaddockProcess> {
  const text = Object.entries({ dataDir: join(pki.dir, 'unused'), secureClientPort: '2281', ...lines }).map(([k, v]) => `${k}=${v}`).join('\n');
  const { config } = parseZooCfg(text, { baseDir: pki.dir });
  return startPaddock({ ssl: config.ssl, serverCnxnFactory: config.serverCnxnFactory, secureClientPort: 0, secureClientPortAddress: '127.0.0.1' });
}

/** ZooKeeper 3.8 with the same `lines` and its TLS port on a free port (Netty needs its codec jar). */
export async function startTlsZooKeeper(lines: Record<string, string>): Promise<{ port: number; securePort: number; stop(): Promise<void> }> {
  const securePort = await freePort();
  const zk = await startVerifiedZooKeeper({ classpath: [NETTY_CODEC_JAR], config: { ...lines, secureClientPort: String(securePort), secureClientPortAddress: '127.0.0.1' } });
  return { port: zk.port, securePort, stop: zk.stop };
}
