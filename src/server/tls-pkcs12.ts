/**
 * The trusted certificates of a PKCS#12 trust store, as keytool writes one
 * (`keytool -importcert -storetype PKCS12`). Node reads a PKCS#12 file only as a key and its
 * chain (tls `pfx`), and a trust store has no key, so its certificate bags are read here:
 * plain ones, and ones encrypted with PBES2 (PBKDF2 and AES-CBC, what keytool and OpenSSL 3
 * write by default). Legacy encryption (RC2, 3DES with the PKCS#12 key derivation) is refused
 * with the command that rewrites the store.
 */
import { createDecipheriv, pbkdf2Sync, X509Certificate } from 'node:crypto';
import { children, DER, expectTlv, integerAt, oidAt, readTlv, type Tlv } from '../lib/der.js';

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
} as const;

const PRF_DIGESTS = new Map([
  ['1.2.840.113549.2.7', 'sha1'], ['1.2.840.113549.2.8', 'sha224'], ['1.2.840.113549.2.9', 'sha256'],
  ['1.2.840.113549.2.10', 'sha384'], ['1.2.840.113549.2.11', 'sha512'],
]);
const AES_CBC = new Map([
  ['2.16.840.1.101.3.4.1.2', 'aes-128-cbc'], ['2.16.840.1.101.3.4.1.22', 'aes-192-cbc'], ['2.16.840.1.101.3.4.1.42', 'aes-256-cbc'],
]);

export class Pkcs12Error extends Error {}

/**
 * The PEM text of every trusted certificate in the store: the certificate bags that belong to
 * no private key (keytool's trustedCertEntry; a key's own chain carries a localKeyId).
 */
export function pkcs12TrustedCertificates(file: Uint8Array, password: string): string[] {
  try {
    const pfx = expectTlv(file, 0, file.length, DER.SEQUENCE, 'PFX');
    const [version, authSafe] = children(file, pfx);
    if (version === undefined || authSafe === undefined || integerAt(file, version) !== 3) throw new Pkcs12Error('not a PKCS#12 version 3 file');
    const safe = dataContent(file, authSafe);
    const list = expectTlv(safe, 0, safe.length, DER.SEQUENCE, 'AuthenticatedSafe');
    const pems: string[] = [];
    for (const info of children(safe, list)) {
      const bags = safeContents(safe, info, password);
      for (const der of trustedCerts(bags)) pems.push(new X509Certificate(der).toString());
    }
    return pems;
  } catch (err) {
    if (err instanceof Pkcs12Error) throw err;
    throw new Pkcs12Error(`unreadable PKCS#12 data (${(err as Error).message}); is the password right?`);
  }
}

/** A ContentInfo of type data: the bytes of its OCTET STRING. */
function dataContent(der: Uint8Array, info: Tlv): Uint8Array {
  const [type, explicit] = children(der, info);
  if (type === undefined || explicit === undefined || oidAt(der, type) !== OID.data) throw new Pkcs12Error('the store is not password-integrity protected data');
  const octets = expectTlv(der, explicit.start, explicit.end, DER.OCTET_STRING, 'data');
  return der.subarray(octets.start, octets.end);
}

/** The SafeContents a ContentInfo holds, decrypted when it is encryptedData. */
function safeContents(der: Uint8Array, info: Tlv, password: string): Uint8Array {
  const [type] = children(der, info);
  if (type === undefined) throw new Pkcs12Error('empty ContentInfo');
  const oid = oidAt(der, type);
  if (oid === OID.data) return dataContent(der, info);
  if (oid !== OID.encryptedData) throw new Pkcs12Error(`unsupported PKCS#12 content type ${oid}`);
  const explicit = children(der, info)[1]!;
  const encryptedData = expectTlv(der, explicit.start, explicit.end, DER.SEQUENCE, 'EncryptedData');
  const [, contentInfo] = children(der, encryptedData);
  if (contentInfo === undefined) throw new Pkcs12Error('EncryptedData without content');
  const [, algorithm, content] = children(der, contentInfo);
  if (algorithm === undefined || content === undefined) throw new Pkcs12Error('EncryptedContentInfo without content');
  return decrypt(der, algorithm, encryptedBytes(der, content), password);
}

/** encryptedContent, [0] IMPLICIT OCTET STRING: primitive, or constructed of OCTET STRING pieces. */
function encryptedBytes(der: Uint8Array, content: Tlv): Uint8Array {
  if (content.tag === DER.CONTEXT_0_PRIMITIVE) return der.subarray(content.start, content.end);
  if (content.tag !== DER.CONTEXT_0) throw new Pkcs12Error('EncryptedContentInfo without encryptedContent');
  return Buffer.concat(children(der, content).map((piece) => der.subarray(piece.start, piece.end)));
}

function decrypt(der: Uint8Array, algorithm: Tlv, ciphertext: Uint8Array, password: string): Uint8Array {
  const [oidTlv, params] = children(der, algorithm);
  const oid = oidAt(der, oidTlv!);
  if (oid !== OID.pbes2 || params === undefined) {
    throw new Pkcs12Error(
      `its certificates are encrypted with a legacy algorithm (${oid}) Node cannot read; rewrite the store with ` +
        '`openssl pkcs12 -export -nokeys -certpbe AES-256-CBC ...` or a recent keytool, or use a PEM trust store',
    );
  }
  const [kdf, scheme] = children(der, params);
  const [kdfOid, kdfParams] = children(der, kdf!);
  if (oidAt(der, kdfOid!) !== OID.pbkdf2 || kdfParams === undefined) throw new Pkcs12Error('PBES2 without PBKDF2');
  const [salt, iterations, ...rest] = children(der, kdfParams);
  let digest = 'sha1';
  for (const field of rest) {
    if (field.tag !== DER.SEQUENCE) continue; // keyLength: the cipher decides it
    const prf = PRF_DIGESTS.get(oidAt(der, children(der, field)[0]!));
    if (prf === undefined) throw new Pkcs12Error('PBKDF2 with an unsupported PRF');
    digest = prf;
  }
  const [cipherOid, iv] = children(der, scheme!);
  const cipher = AES_CBC.get(oidAt(der, cipherOid!));
  if (cipher === undefined || iv === undefined) throw new Pkcs12Error('PBES2 with a cipher other than AES-CBC');
  const keyBytes = Number(cipher.slice(4, 7)) / 8;
  const count = integerAt(der, iterations!);
  if (count > 10_000_000) throw new Pkcs12Error('PBKDF2 iteration count too large');
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), der.subarray(salt!.start, salt!.end), count, keyBytes, digest);
  const decipher = createDecipheriv(cipher, key, der.subarray(iv.start, iv.end));
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/** DER certificates of the certificate bags without a localKeyId. */
function trustedCerts(bags: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const list = expectTlv(bags, 0, bags.length, DER.SEQUENCE, 'SafeContents');
  for (const bag of children(bags, list)) {
    const [bagId, value, attributes] = children(bags, bag);
    if (bagId === undefined || value === undefined || oidAt(bags, bagId) !== OID.certBag) continue;
    if (attributes !== undefined && hasAttribute(bags, attributes, OID.localKeyId)) continue;
    const certBag = expectTlv(bags, value.start, value.end, DER.SEQUENCE, 'CertBag');
    const [certId, certValue] = children(bags, certBag);
    if (certId === undefined || certValue === undefined || oidAt(bags, certId) !== OID.x509Certificate) continue;
    const octets = readTlv(bags, certValue.start, certValue.end);
    out.push(bags.subarray(octets.start, octets.end));
  }
  return out;
}

function hasAttribute(der: Uint8Array, attributes: Tlv, oid: string): boolean {
  return children(der, attributes).some((attr) => {
    const [type] = children(der, attr);
    return type !== undefined && type.tag === DER.OID && oidAt(der, type) === oid;
  });
}
