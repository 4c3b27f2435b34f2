/**
 * The x509 scheme: a TLS client's verified certificate gives its connection the id
 * `x509:<subject>`, the subject written as ZooKeeper's X509AuthenticationProvider writes it
 * (Java's X500Principal.getName(), RFC 2253): the RDNs last to first, joined by ',', the
 * attributes of a multi-valued RDN joined by '+', CN, C, L, ST, O, OU, STREET, DC and UID by
 * keyword, any other attribute as its dotted OID and '#' with the hex of its DER value. Pure:
 * it reads the certificate's DER bytes.
 */
import type { Id } from '../jute/records.js';
import { DER, decodeOid, expectTlv, readTlv, type Tlv } from '../lib/der.js';

/** The ids a verified client certificate gives: x509, and super when it is the configured super user. */
export function x509AuthIds(certificateDer: Uint8Array, superUser: string | null): Id[] {
  const subject = x509SubjectName(certificateDer);
  const ids: Id[] = [];
  if (superUser !== null && subject === superUser) ids.push({ scheme: 'super', id: subject });
  ids.push({ scheme: 'x509', id: subject });
  return ids;
}

/** The certificate's subject as Java's X500Principal.getName() writes it; throws RangeError on bad DER. */
export function x509SubjectName(certificateDer: Uint8Array): string {
  const cert = expectTlv(certificateDer, 0, certificateDer.length, DER.SEQUENCE, 'Certificate');
  const tbs = expectTlv(certificateDer, cert.start, cert.end, DER.SEQUENCE, 'TBSCertificate');
  let at = tbs.start;
  let field = readTlv(certificateDer, at, tbs.end);
  if (field.tag === DER.CONTEXT_0) at = field.end; // [0] version is optional
  // serialNumber, signature, issuer, validity, then subject.
  for (let skip = 0; skip < 4; skip++) at = readTlv(certificateDer, at, tbs.end).end;
  field = expectTlv(certificateDer, at, tbs.end, DER.SEQUENCE, 'subject');
  return formatName(certificateDer, field);
}

/** x509 ACL ids ZooKeeper accepts (new X500Principal(id) does not throw): type=value pairs, or nothing. */
export function isValidX509Id(id: string): boolean {
  if (id.trim() === '') return true;
  for (const part of splitUnescaped(id, /[,;+]/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) return false;
    const type = part.slice(0, eq).trim();
    if (!/^([A-Za-z][A-Za-z0-9-]*|(OID\.)?\d+(\.\d+)*)$/.test(type)) return false;
  }
  return true;
}

/** `text` cut at unescaped separators (a backslash escapes the next character). */
function splitUnescaped(text: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      current += c + text[++i];
    } else if (separator.test(c)) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/** Java's RFC 2253 keywords (AVAKeyword's rfc2253Compliant entries), by OID. */
const KEYWORDS = new Map<string, string>([
  ['2.5.4.3', 'CN'], ['2.5.4.6', 'C'], ['2.5.4.7', 'L'], ['2.5.4.8', 'ST'], ['2.5.4.10', 'O'], ['2.5.4.11', 'OU'],
  ['2.5.4.9', 'STREET'], ['0.9.2342.19200300.100.1.25', 'DC'], ['0.9.2342.19200300.100.1.1', 'UID'],
]);

/** DER string types written as text (AVA.isDerString, non-canonical): Printable, T61, IA5, General, UTF8, BMP. */
const STRING_TAGS = new Set([0x13, 0x14, 0x16, 0x1b, 0x0c, 0x1e]);

/** X500Name.getRFC2253Name: RDNs from last to first. */
function formatName(der: Uint8Array, name: Tlv): string {
  const rdns: string[] = [];
  for (let at = name.start; at < name.end;) {
    const rdn = expectTlv(der, at, name.end, DER.SET, 'RelativeDistinguishedName');
    const avas: string[] = [];
    for (let a = rdn.start; a < rdn.end;) {
      const ava = expectTlv(der, a, rdn.end, DER.SEQUENCE, 'AttributeTypeAndValue');
      avas.push(formatAva(der, ava));
      a = ava.end;
    }
    rdns.push(avas.join('+'));
    at = rdn.end;
  }
  return rdns.reverse().join(',');
}

function formatAva(der: Uint8Array, ava: Tlv): string {
  const type = expectTlv(der, ava.start, ava.end, DER.OID, 'attribute type');
  const oid = decodeOid(der.subarray(type.start, type.end));
  const value = readTlv(der, type.end, ava.end);
  const keyword = KEYWORDS.get(oid);
  if (keyword === undefined || !STRING_TAGS.has(value.tag)) {
    return `${keyword ?? oid}=#${hexOf(der.subarray(value.head, value.end))}`;
  }
  // Java decodes the bytes of every string type as UTF-8 here (AVA.toRFC2253String).
  return `${keyword}=${escapeValue(new TextDecoder().decode(der.subarray(value.start, value.end)))}`;
}

const ESCAPED = ',=+<>#;"\\';

/** AVA.toRFC2253String's escaping: specials and NUL everywhere, spaces (and CR) at either end. */
function escapeValue(text: string): string {
  let out = '';
  for (const c of text) {
    if (ESCAPED.includes(c)) out += `\\${c}`;
    else if (c === '\u0000') out += '\\00';
    else out += c;
  }
  const chars = [...out];
  let lead = 0;
  while (lead < chars.length && (chars[lead] === ' ' || chars[lead] === '\r')) lead++;
  let trail = chars.length - 1;
  while (trail >= 0 && (chars[trail] === ' ' || chars[trail] === '\r')) trail--;
  return chars.map((c, i) => (i < lead || i > trail ? `\\${c}` : c)).join('');
}

function hexOf(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
