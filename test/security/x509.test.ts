/**
 * The x509 scheme's ids: a certificate's subject written as Java's X500Principal.getName()
 * writes it (what ZooKeeper's X509AuthenticationProvider uses), checked against Java itself on
 * certificates with awkward subjects; and which ACL ids the scheme accepts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixupAcl, isValidX509Id, x509AuthIds, x509SubjectName } from '../../src/acl/index.js';
import { skipUnless } from '../support/clients.js';
import { OPENSSL, opensslMissing } from './pki.js';

const JAVA = '/usr/bin/java';
const javaMissing = (): string | null => (existsSync(JAVA) && existsSync('/usr/bin/javac') ? null : 'a JDK (java and javac) is not installed');
const skip = skipUnless(opensslMissing(), javaMissing());

/** Subjects in openssl's -subj syntax (UTF-8), with multi-valued RDNs, escapes, OIDs without RFC 2253 names. */
const SUBJECTS = [
  '/CN=zkclient',
  '/O=Paddock Test/CN=zkclient',
  '/C=US/O=Paddock, Inc./OU=QA+OU=Dev/CN=client one/emailAddress=a@b.c',
  '/DC=org/DC=example/C=DE/ST=Bayern/L=München/UID=u1/O=#Hash<>;="q"/CN= spaced \\/title=Boss /serialNumber=42',
  '/CN=back\\\\slash/street=Main St 1/title=Dr/GN=Ada/SN=Lovelace',
];

let dir = '';
const certs: string[] = [];

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'paddock-x509-'));
  SUBJECTS.forEach((subj, i) => {
    const r = spawnSync(OPENSSL, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-utf8',
      '-keyout', join(dir, `${i}.key`), '-out', join(dir, `${i}.pem`), '-days', '1', '-subj', subj], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    certs.push(join(dir, `${i}.pem`));
  });
});
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

const JAVA_SOURCE = `
import java.io.*; import java.security.cert.*;
public class Subjects { public static void main(String[] args) throws Exception {
  CertificateFactory f = CertificateFactory.getInstance("X.509");
  PrintStream out = new PrintStream(System.out, true, "UTF-8");
  for (String p : args) try (InputStream in = new FileInputStream(p)) {
    out.println(((X509Certificate) f.generateCertificate(in)).getSubjectX500Principal().getName());
  }
}}`;

test('subjects are written exactly as Java\'s X500Principal.getName() writes them', { skip }, () => {
  const source = join(dir, 'Subjects.java');
  writeFileSync(source, JAVA_SOURCE);
  const r = spawnSync(JAVA, [source, ...certs], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const java = r.stdout.split('\n').slice(0, certs.length);
  const ours = certs.map((c) => x509SubjectName(new X509Certificate(readFileSync(c)).raw));
  assert.deepEqual(ours, java);
  assert.equal(ours[1], 'CN=zkclient,O=Paddock Test');
  assert.match(ours[2]!, /^1\.2\.840\.113549\.1\.9\.1=#[0-9a-f]+,CN=client one,OU=QA\+OU=Dev,O=Paddock\\, Inc\.,C=US$/);
});

test('a certificate gives x509, and super when it is the superUser', { skip }, () => {
  const der = new X509Certificate(readFileSync(certs[1]!)).raw;
  assert.deepEqual(x509AuthIds(der, null), [{ scheme: 'x509', id: 'CN=zkclient,O=Paddock Test' }]);
  assert.deepEqual(x509AuthIds(der, 'CN=zkclient,O=Paddock Test'), [
    { scheme: 'super', id: 'CN=zkclient,O=Paddock Test' }, { scheme: 'x509', id: 'CN=zkclient,O=Paddock Test' },
  ]);
  assert.deepEqual(x509AuthIds(der, 'CN=zkclient'), [{ scheme: 'x509', id: 'CN=zkclient,O=Paddock Test' }]);
  assert.throws(() => x509SubjectName(der.subarray(0, 40)), RangeError);
  assert.throws(() => x509SubjectName(Buffer.from('not DER at all')), RangeError);
});

test('x509 ACL ids: type=value pairs (what new X500Principal(id) accepts)', () => {
  for (const ok of ['CN=app1', 'CN=app1,O=Example', 'CN=a\\,b;O=x', 'OU=QA+OU=Dev,C=US', '1.2.840.113549.1.9.1=#16056140622e63', 'OID.2.5.4.3=x', '']) {
    assert.equal(isValidX509Id(ok), true, ok);
  }
  for (const bad of ['app1', 'CN', '=x', 'CN=a,', 'C N=x', '1.2.=x']) assert.equal(isValidX509Id(bad), false, bad);
  const acl = [{ perms: 31, id: { scheme: 'x509', id: 'CN=app1,O=Example' } }];
  assert.deepEqual(fixupAcl(acl, []), acl);
  assert.equal(fixupAcl([{ perms: 31, id: { scheme: 'x509', id: 'app1' } }], []), null);
});
