/**
 * Client TLS from ZooKeeper's ssl.* settings: the key store and trust store (PEM or PKCS12;
 * JKS is refused with the keytool command that converts it), ssl.clientAuth, the protocol
 * versions and cipher suites, turned into Node's TLS options; and the FileChangeWatcher of
 * client.certReload, which reads the stores again when their files change.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { getCiphers, type SecureContextOptions } from 'node:tls';
import { ConfigError } from '../config/config.js';
import { pkcs12TrustedCertificates, Pkcs12Error } from './tls-pkcs12.js';

/** A TLS setting or store that cannot be used; the message names the setting. A ConfigError, so `paddock server` prints it as one line. */
export class TlsConfigError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'TlsConfigError';
  }
}

export type ClientAuth = 'none' | 'want' | 'need';

export interface ClientTlsOptions {
  /** What tls.createSecureContext (and tls.Server.setSecureContext) takes. */
  context: SecureContextOptions;
  clientAuth: ClientAuth;
  /** Files whose change means a reload (the stores). */
  files: string[];
  /** ssl.handshakeDetectionTimeoutMillis: wait for the first bytes on a unified port. */
  handshakeDetectionTimeoutMs: number;
}

type Protocol = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const PROTOCOLS: readonly Protocol[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
/** X509Util.DEFAULT_PROTOCOL in ZooKeeper 3.8. */
const DEFAULT_PROTOCOL = 'TLSv1.2';
const DEFAULT_HANDSHAKE_DETECTION_MS = 5000;

type StoreType = 'PEM' | 'PKCS12';

/** Reads the stores and options named by the ssl.* settings (names without the `ssl.` prefix). */
export function clientTlsOptions(ssl: ReadonlyMap<string, string>, read: (path: string) => Buffer = readFileSync): ClientTlsOptions {
  return tlsOptions(ssl, 'ssl.', 'the TLS client port', read);
}

/**
 * The same for a family of settings under `prefix` (`ssl.` for clients, `ssl.quorum.` between
 * servers, as ZooKeeper's X509Util reads one family per prefix); `user` names who needs the key
 * store, for the error when it is not set.
 */
export function tlsOptions(ssl: ReadonlyMap<string, string>, prefix: string, user: string, read: (path: string) => Buffer = readFileSync): ClientTlsOptions {
  const setting = (name: string): string | undefined => {
    const v = ssl.get(name)?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const context: SecureContextOptions = { ...protocolRange(prefix, setting('protocol'), setting('enabledProtocols')) };
  const ciphers = setting('ciphersuites');
  if (ciphers !== undefined) context.ciphers = opensslCiphers(ciphers, `${prefix}ciphersuites`);
  const files: string[] = [];
  const keyStore = setting('keyStore.location');
  if (keyStore === undefined) throw new TlsConfigError(`${prefix}keyStore.location is not set: ${user} needs the server's key and certificate`);
  files.push(resolve(keyStore));
  Object.assign(context, readKeyStore(prefix, keyStore, setting('keyStore.type'), password(prefix, setting, 'keyStore', read), read));
  const trustStore = setting('trustStore.location');
  if (trustStore !== undefined) {
    files.push(resolve(trustStore));
    context.ca = readTrustStore(prefix, trustStore, setting('trustStore.type'), password(prefix, setting, 'trustStore', read), read);
  }
  return {
    context, clientAuth: clientAuth(prefix, setting('clientAuth')), files,
    handshakeDetectionTimeoutMs: detectionTimeout(prefix, setting('handshakeDetectionTimeoutMillis')),
  };
}

/** ssl.clientAuth: ZooKeeper's default is need. */
function clientAuth(prefix: string, text: string | undefined): ClientAuth {
  const value = (text ?? 'need').toLowerCase();
  if (value !== 'none' && value !== 'want' && value !== 'need') throw new TlsConfigError(`invalid ${prefix}clientAuth '${text}': expected none, want or need`);
  return value;
}

function detectionTimeout(prefix: string, text: string | undefined): number {
  if (text === undefined) return DEFAULT_HANDSHAKE_DETECTION_MS;
  const ms = Number(text);
  if (!Number.isSafeInteger(ms) || ms < 1) throw new TlsConfigError(`invalid ${prefix}handshakeDetectionTimeoutMillis '${text}': expected an integer >= 1`);
  return ms;
}

/** ssl.X.password, or the contents of ssl.X.passwordPath (trailing line break dropped), or ''. */
function password(prefix: string, setting: (name: string) => string | undefined, store: string, read: (path: string) => Buffer): string {
  const direct = setting(`${store}.password`);
  if (direct !== undefined) return direct;
  const path = setting(`${store}.passwordPath`);
  if (path === undefined) return '';
  try {
    return read(path).toString('utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new TlsConfigError(`cannot read ${prefix}${store}.passwordPath ${path}: ${(err as Error).message}`);
  }
}

/** The store type: ssl.X.type, else from the file name as ZooKeeper does, else from the contents. */
function storeType(settingName: string, location: string, typeText: string | undefined, bytes: Buffer): StoreType {
  const type = (typeText ?? typeFromName(location) ?? typeFromContents(bytes)).toUpperCase();
  if (type === 'JKS' || bytes.readUInt32BE(0) === 0xfeedfeed) {
    throw new TlsConfigError(
      `${settingName} ${location} is a JKS store, which only Java reads; convert it to PKCS12 with ` +
        `\`keytool -importkeystore -srckeystore ${location} -srcstoretype JKS -destkeystore ${location.replace(/\.jks$/i, '')}.p12 -deststoretype PKCS12\` ` +
        'and point the setting (and its .type) at the new file',
    );
  }
  if (type === 'PEM' || type === 'PKCS12') return type;
  throw new TlsConfigError(`${settingName} ${location}: store type ${type} is not supported (PEM and PKCS12 are)`);
}

function typeFromName(location: string): string | undefined {
  const ext = extname(location).toLowerCase();
  if (ext === '.pem' || ext === '.crt' || ext === '.key') return 'PEM';
  if (ext === '.p12' || ext === '.pfx' || ext === '.pkcs12') return 'PKCS12';
  if (ext === '.jks') return 'JKS';
  if (ext === '.bcfks') return 'BCFKS';
  return undefined;
}

function typeFromContents(bytes: Buffer): string {
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0xfeedfeed) return 'JKS';
  return bytes.subarray(0, 64).toString('latin1').includes('-----BEGIN') ? 'PEM' : 'PKCS12';
}

function readStore(settingName: string, location: string, read: (path: string) => Buffer): Buffer {
  try {
    const bytes = read(location);
    if (bytes.length < 4) throw new Error('the file is empty');
    return bytes;
  } catch (err) {
    throw new TlsConfigError(`cannot read ${settingName} ${location}: ${(err as Error).message}`);
  }
}

/** The server's key and certificate chain: a PEM file holding both, or a PKCS12 store. */
function readKeyStore(prefix: string, location: string, typeText: string | undefined, pass: string, read: (path: string) => Buffer): SecureContextOptions {
  const name = `${prefix}keyStore.location`;
  const bytes = readStore(name, location, read);
  if (storeType(name, location, typeText, bytes) === 'PKCS12') return { pfx: bytes, passphrase: pass };
  const text = bytes.toString('utf8');
  if (!/-----BEGIN (ENCRYPTED |RSA |EC )?PRIVATE KEY-----/.test(text)) throw new TlsConfigError(`${name} ${location} holds no private key`);
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new TlsConfigError(`${name} ${location} holds no certificate`);
  return { key: text, cert: text, ...(pass === '' ? {} : { passphrase: pass }) };
}

/** The certificates trusted to sign client certificates, as PEM. */
function readTrustStore(prefix: string, location: string, typeText: string | undefined, pass: string, read: (path: string) => Buffer): string[] {
  const name = `${prefix}trustStore.location`;
  const bytes = readStore(name, location, read);
  if (storeType(name, location, typeText, bytes) === 'PEM') {
    const certs = bytes.toString('utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    if (certs.length === 0) throw new TlsConfigError(`${name} ${location} holds no certificate`);
    return certs;
  }
  try {
    const certs = pkcs12TrustedCertificates(bytes, pass);
    if (certs.length === 0) throw new TlsConfigError(`${name} ${location} holds no trusted certificate`);
    return certs;
  } catch (err) {
    if (err instanceof Pkcs12Error) throw new TlsConfigError(`${name} ${location}: ${err.message}`);
    throw err;
  }
}

/**
 * ssl.enabledProtocols, or else ssl.protocol alone (ZooKeeper enables only the context's
 * protocol), as Node's version range. TLS means every version Node allows.
 */
function protocolRange(prefix: string, protocol: string | undefined, enabled: string | undefined): Pick<SecureContextOptions, 'minVersion' | 'maxVersion'> {
  const names = (enabled ?? protocol ?? DEFAULT_PROTOCOL).split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (names.includes('TLS')) return {};
  const versions = names.map((name) => {
    const version = PROTOCOLS.find((p) => p.toLowerCase() === name.toLowerCase());
    if (version === undefined) {
      throw new TlsConfigError(`invalid ${prefix}${enabled === undefined ? 'protocol' : 'enabledProtocols'} '${name}': expected TLSv1.2, TLSv1.3, TLSv1.1, TLSv1 or TLS`);
    }
    return version;
  });
  const order = (v: Protocol): number => PROTOCOLS.indexOf(v);
  versions.sort((a, b) => order(a) - order(b));
  return { minVersion: versions[0]!, maxVersion: versions[versions.length - 1]! };
}

/** ssl.ciphersuites (Java/IANA names, or OpenSSL's) as Node's cipher list; an unknown suite is an error. */
export function opensslCiphers(list: string, settingName = 'ssl.ciphersuites'): string {
  const known = new Set(getCiphers());
  const names = list.split(',').map((c) => c.trim()).filter((c) => c !== '');
  return names
    .map((name) => {
      const openssl = opensslCipherName(name);
      if (!known.has(openssl.toLowerCase())) throw new TlsConfigError(`invalid ${settingName}: ${name} is not a cipher suite Node's OpenSSL knows`);
      return openssl;
    })
    .join(':');
}

/** TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 -> ECDHE-RSA-AES128-GCM-SHA256; TLS 1.3 names stay. */
export function opensslCipherName(name: string): string {
  const m = /^(?:TLS|SSL)_(.+?)_WITH_(.+)$/.exec(name);
  if (m === null) return name;
  const exchange = m[1]! === 'RSA' ? '' : m[1]!.replace(/_/g, '-');
  const cipher = m[2]!
    .replace(/^AES_(\d+)_GCM_(SHA\d+)$/, 'AES$1-GCM-$2')
    .replace(/^AES_(\d+)_CBC_SHA$/, 'AES$1-SHA')
    .replace(/^AES_(\d+)_CBC_(SHA\d+)$/, 'AES$1-$2')
    .replace(/^AES_(\d+)_CCM(_8)?$/, (_all, bits: string, eight?: string) => `AES${bits}-CCM${eight === undefined ? '' : '8'}`)
    .replace(/^CHACHA20_POLY1305_SHA256$/, 'CHACHA20-POLY1305');
  return exchange === '' ? cipher : `${exchange}-${cipher}`;
}

/**
 * client.certReload: watches the stores' directories (as ZooKeeper's FileChangeWatcher does, so
 * a store replaced by rename is seen) and calls `reload` once a burst of changes has settled.
 */
export class StoreWatcher {
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(files: readonly string[], private readonly reload: () => void, private readonly settleMs = 100) {
    const byDir = new Map<string, Set<string>>();
    for (const file of files) {
      const names = byDir.get(dirname(file)) ?? new Set<string>();
      names.add(basename(file));
      byDir.set(dirname(file), names);
    }
    for (const [dir, names] of byDir) {
      const w = watch(dir, (_event, filename) => {
        if (filename === null || names.has(filename.toString())) this.changed();
      });
      w.unref();
      this.watchers.push(w);
    }
  }

  private changed(): void {
    // Editors and `cp` write a file in several steps: read it once they are done.
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reload();
    }, this.settleMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
  }
}
