/**
 * The pure parts of SASL and enforced authentication: MD5, the DIGEST-MD5 server state machine,
 * the JAAS parser, principal names, the settings (zoo.cfg keys, JVM flags, start checks) and
 * what a connection answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { md5 } from '../../src/auth/md5.js';
import { DigestMd5Server, parseDirectives, responseValue, SaslError, type ResponseParams } from '../../src/auth/sasl-digest.js';
import { parseJaas } from '../../src/auth/jaas.js';
import { isValidSaslId, saslAuthorizationId } from '../../src/auth/principal.js';
import { authConfigProblem, defaultAuthConfig, enforcedSchemes, saslRequired, type AuthConfig } from '../../src/auth/config.js';
import { applyJvmFlags, jvmSystemProperties, loadServerAuth } from '../../src/auth/load.js';
import { authenticationMissing, createServerAuth, SaslConversation } from '../../src/auth/sasl-server.js';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';
import { Err } from '../../src/jute/constants.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('MD5: RFC 1321 vectors, and node:crypto at every length around block boundaries', () => {
  assert.equal(hex(md5(Buffer.from(''))), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(hex(md5(Buffer.from('abc'))), '900150983cd24fb0d6963f7d28e17f72');
  assert.equal(hex(md5(Buffer.from('12345678901234567890123456789012345678901234567890123456789012345678901234567890'))), '57edf4a22be3c955ac49da2e2107b67a');
  for (let n = 0; n < 200; n++) {
    const input = Buffer.alloc(n, (n * 7) & 0xff);
    assert.equal(hex(md5(input)), createHash('md5').update(input).digest('hex'), `length ${n}`);
  }
});

test('DIGEST-MD5 response values: the example of RFC 2831 section 4', () => {
  const p: ResponseParams = {
    username: 'chris', realm: 'elwood.innosoft.com', password: 'secret', nonce: 'OA6MG9tEQGm2hh', nc: '00000001',
    cnonce: 'OA6MHXh6VqTrRk', qop: 'auth', digestUri: 'imap/elwood.innosoft.com', authzid: null, utf8: false,
  };
  assert.equal(responseValue(p, 'AUTHENTICATE'), 'd388dad90d4bbd760a152321f2143af7');
  assert.equal(responseValue(p, ''), 'ea40f60335c427b5527b84dbabcdfffd');
});

const NONCE = 'c2VydmVyLW5vbmNl';
const USERS = new Map([['bob', 'pw'], ['zoë', 'pässword']]);

function server(): DigestMd5Server {
  return new DigestMd5Server({ nonce: NONCE, password: (u) => USERS.get(u) ?? null });
}

/** A client response to `NONCE`, with `over` replacing fields (null drops one). */
function clientResponse(over: Partial<Record<string, string | null>> = {}, password = 'pw'): Buffer {
  const fields: Record<string, string | null> = {
    charset: 'utf-8', username: '"bob"', realm: '"zk-sasl-md5"', nonce: `"${NONCE}"`, nc: '00000001', cnonce: '"client-nonce"',
    'digest-uri': '"zookeeper/zk-sasl-md5"', maxbuf: '65536', qop: 'auth', ...over,
  };
  const unquote = (v: string | null | undefined): string | undefined => (v === null || v === undefined ? undefined : v.replace(/^"|"$/g, ''));
  const authzid = unquote(fields.authzid);
  const params: ResponseParams = {
    username: unquote(fields.username) ?? '', realm: unquote(fields.realm) ?? '', password, nonce: unquote(fields.nonce) ?? '',
    nc: fields.nc ?? '', cnonce: unquote(fields.cnonce) ?? '', qop: fields.qop ?? 'auth', digestUri: unquote(fields['digest-uri']) ?? '',
    authzid: authzid ?? null, utf8: fields.charset !== null,
  };
  if (!('response' in over)) fields.response = responseValue(params, 'AUTHENTICATE');
  return Buffer.from(Object.entries(fields).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).join(','), 'utf8');
}

test('DIGEST-MD5 server: challenge, response, rspauth; the identity is the user', () => {
  const s = server();
  const challenge = parseDirectives(Buffer.from(s.evaluate(Buffer.alloc(0))).toString('latin1'));
  assert.deepEqual(Object.fromEntries(challenge), { realm: 'zk-sasl-md5', nonce: NONCE, charset: 'utf-8', algorithm: 'md5-sess' });
  assert.equal(s.complete, false);
  const rspauth = Buffer.from(s.evaluate(clientResponse())).toString('latin1');
  const expected = responseValue({
    username: 'bob', realm: 'zk-sasl-md5', password: 'pw', nonce: NONCE, nc: '00000001', cnonce: 'client-nonce', qop: 'auth',
    digestUri: 'zookeeper/zk-sasl-md5', authzid: null, utf8: true,
  }, '');
  assert.equal(rspauth, `rspauth=${expected}`);
  assert.equal(s.complete, true);
  assert.deepEqual(s.identity, { authenticationId: 'bob', authorizationId: null });
  assert.throws(() => s.evaluate(Buffer.alloc(0)), /already completed/);
});

test('DIGEST-MD5 server: authzid takes part in the hash; UTF-8 names and passwords', () => {
  const s = server();
  s.evaluate(Buffer.alloc(0));
  s.evaluate(clientResponse({ authzid: '"bob"' }));
  assert.deepEqual(s.identity, { authenticationId: 'bob', authorizationId: 'bob' });
  const t = server();
  t.evaluate(Buffer.alloc(0));
  t.evaluate(clientResponse({ username: '"zoë"' }, 'pässword'));
  assert.equal(t.identity?.authenticationId, 'zoë');
  // Without charset=utf-8 the name and password are ISO-8859-1 (puresasl sends no charset).
  const u = server();
  u.evaluate(Buffer.alloc(0));
  const latin1 = clientResponse({ charset: null, username: '"zoë"' }, 'pässword').toString('utf8');
  u.evaluate(Buffer.from(latin1, 'latin1'));
  assert.equal(u.identity?.authenticationId, 'zoë');
});

test('DIGEST-MD5 server: every bad response fails, and the exchange cannot go on', () => {
  const cases: [Buffer, RegExp][] = [
    [clientResponse({}, 'wrong'), /mismatched response/],
    [clientResponse({ username: '"eve"' }), /cannot acquire password for eve/],
    [clientResponse({ nonce: '"other"' }), /mismatched nonce/],
    [clientResponse({ nc: '00000002' }), /nonce count 00000002/],
    [clientResponse({ realm: '"elsewhere"' }), /nonexistent realm 'elsewhere'/],
    [clientResponse({ realm: null }), /nonexistent realm ''/],
    [clientResponse({ 'digest-uri': '"zookeeper/otherhost"' }), /mismatched URI/],
    [clientResponse({ qop: 'auth-conf' }), /qop auth-conf was not offered/],
    [clientResponse({ charset: 'iso-8859-1' }), /unsupported charset/],
    [clientResponse({ cnonce: null }), /missing cnonce/],
    [Buffer.from('username="bob",username="bob"'), /duplicate directive username/],
    [Buffer.from('username="bob'), /unterminated quoted value/],
    [Buffer.from('garbage'), /directive without a value/],
    [Buffer.alloc(0), /missing username/],
    [Buffer.alloc(5000, 0x61), /invalid digest response length: 5000/],
  ];
  for (const [token, message] of cases) {
    const s = server();
    s.evaluate(Buffer.alloc(0));
    assert.throws(() => s.evaluate(token), (e: unknown) => e instanceof SaslError && message.test(e.message), `${token.toString().slice(0, 80)} -> ${message}`);
    assert.equal(s.complete, false);
    assert.throws(() => s.evaluate(clientResponse()), /already failed/);
  }
});

test('DIGEST-MD5 server: a first token (GSSAPI) is ignored and challenged, as by Java', () => {
  const s = server();
  const challenge = Buffer.from(s.evaluate(Buffer.from([0x60, 0x82, 0x01]))).toString('latin1');
  assert.match(challenge, /^realm="zk-sasl-md5",nonce=/);
  assert.equal(s.openedWithToken, true);
  assert.throws(() => s.evaluate(Buffer.from([0x60, 0x82, 0x02])), SaslError);
  assert.throws(() => new DigestMd5Server({ nonce: 'a"b', password: () => null }), RangeError);
});

test('JAAS: sections, modules, flags, options, comments', () => {
  const jaas = parseJaas(`
// ZooKeeper's server section
Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bob\\"s pw";
};
/* a client section
   over two lines */
Client { org.apache.zookeeper.server.auth.DigestLoginModule Optional username='bob' password="pw" debug=true; };
`);
  assert.deepEqual([...jaas.keys()], ['Server', 'Client']);
  const server = jaas.get('Server')![0]!;
  assert.equal(server.className, 'org.apache.zookeeper.server.auth.DigestLoginModule');
  assert.equal(server.flag, 'required');
  assert.equal(server.line, 4);
  assert.deepEqual(Object.fromEntries(server.options), { user_super: 'adminsecret', user_bob: 'bob"s pw' });
  const client = jaas.get('Client')![0]!;
  assert.equal(client.flag, 'optional');
  assert.deepEqual(Object.fromEntries(client.options), { username: 'bob', password: 'pw', debug: 'true' });
});

test('JAAS: errors name the line', () => {
  const cases: [string, RegExp][] = [
    ['Server {\n  M required\n    user_bob="pw"\n};', /: line 4: unexpected end of file|: line 4: expected/],
    ['Server {\n  M required user_bob="pw";\n}', /: line 3: unexpected end of file: expected ';'/],
    ['Server {\n  M mandatory;\n};', /: line 2: invalid control flag 'mandatory' after M/],
    ['Server {\n  M required\n  user_bob "pw";\n};', /: line 3: expected '=' after option user_bob/],
    ['Server {\n  M required user_bob="pw\n";\n};', /: line 2: unterminated quoted string/],
    ['Server {\n};', /: line 1: section 'Server' has no login module/],
    ['Server { M required; };\nServer { M required; };', /: line 2: section 'Server' is defined twice/],
    ['Server { M required a=1 a=2; };', /: line 1: option a is given twice/],
    ['Server { M required; };\n/* never closed', /: line 2: unterminated \/\* comment/],
    ['Server { M required; } ;\n@', /: line 2: unexpected character '@'/],
    ['{ M required; };', /: line 1: expected a section name/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseJaas(text), message, text);
});

test('principal names: ZooKeeper KerberosName rules without a Kerberos realm', () => {
  const rules = { removeHostFromPrincipal: false, removeRealmFromPrincipal: false };
  assert.equal(saslAuthorizationId('bob', null, rules), 'bob');
  assert.equal(saslAuthorizationId('bob/host', null, rules), 'bob/host'); // no '@': one plain name
  assert.equal(saslAuthorizationId('bob/host@', null, rules), 'bob/host@');
  assert.equal(saslAuthorizationId('bob/host@', null, { removeHostFromPrincipal: true, removeRealmFromPrincipal: false }), 'bob@');
  assert.equal(saslAuthorizationId('bob/host@', null, { removeHostFromPrincipal: true, removeRealmFromPrincipal: true }), 'bob');
  // A realm other than the (empty) default: no rule applies, the proposed id stays.
  assert.equal(saslAuthorizationId('bob@EXAMPLE.COM', null, { removeHostFromPrincipal: true, removeRealmFromPrincipal: true }), 'bob@EXAMPLE.COM');
  assert.equal(saslAuthorizationId('bob@EXAMPLE.COM', 'other', rules), 'other');
  assert.equal(saslAuthorizationId('a@b@c', null, rules), null);
  assert.equal(isValidSaslId('bob'), true);
  assert.equal(isValidSaslId('svc/host@REALM'), true);
  assert.equal(isValidSaslId('a/b/c@R'), false);
});

function parseLines(...lines: string[]): { auth: AuthConfig; warnings: string[] } {
  const { config, warnings } = parseZooCfg(['dataDir=/tmp/d', 'clientPort=2181', ...lines].join('\n'), { baseDir: '/tmp' });
  return { auth: config.auth, warnings };
}

test('zoo.cfg keys: SASL and enforce.auth settings are read, Kerberos ones warn', () => {
  const { auth, warnings } = parseLines(
    'authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider', 'java.security.auth.login.config=/etc/zk/jaas.conf',
    'sasl.serverconfig=ZkServer', 'enforce.auth.enabled=true', 'enforce.auth.schemes=sasl, digest', 'allowSaslFailedClients=true',
    'superUser=admin', 'superUser.2=root', 'SASLAuthenticationProvider.superPassword=s3', 'kerberos.removeHostFromPrincipal=true',
    'kerberos.removeRealmFromPrincipal=true', 'sessionRequireClientSASLAuth=false',
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(auth, {
    jaasConfigPath: '/etc/zk/jaas.conf', saslLoginContext: 'ZkServer', providers: ['sasl'], enforceAuthEnabled: true,
    enforceAuthSchemes: ['sasl', 'digest'], sessionRequireClientSASLAuth: false, allowSaslFailedClients: true, superUsers: ['admin', 'root'],
    superPassword: 's3', removeHostFromPrincipal: true, removeRealmFromPrincipal: true,
    quorumSaslEnabled: false, quorumServerRequireSasl: false, quorumLearnerRequireSasl: false,
    quorumServerLoginContext: 'QuorumServer', quorumLearnerLoginContext: 'QuorumLearner',
  });
  const other = parseLines('authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider', 'security.auth_to_local=RULE:[1:$1]', 'security.auth_to_local=DEFAULT');
  assert.equal(other.auth.providers.length, 0);
  assert.equal(other.warnings.filter((w) => w.includes('authProvider.x509')).length, 1);
  assert.deepEqual(parseLines('security.auth_to_local=DEFAULT', 'kerberos.canonicalizeHostNames=false').warnings, []);
  assert.equal(parseLines('kerberos.canonicalizeHostNames=true').warnings.length, 1);
  assert.throws(() => parseLines('sessionRequireClientSASLAuth=yes'), /invalid sessionRequireClientSASLAuth 'yes'/);
});

test('enforcement settings: which schemes, and what stops the start', () => {
  const auth = (over: Partial<AuthConfig>): AuthConfig => ({ ...defaultAuthConfig(), ...over });
  assert.equal(enforcedSchemes(auth({})), null);
  assert.deepEqual(enforcedSchemes(auth({ enforceAuthEnabled: true, enforceAuthSchemes: ['digest'] })), ['digest']);
  // sessionRequireClientSASLAuth wins over enforce.auth.*.
  assert.deepEqual(enforcedSchemes(auth({ sessionRequireClientSASLAuth: true, enforceAuthSchemes: ['digest'] })), ['sasl']);
  assert.equal(saslRequired(auth({ enforceAuthEnabled: true, enforceAuthSchemes: ['digest', 'sasl'] })), true);
  assert.equal(saslRequired(auth({ enforceAuthEnabled: false, enforceAuthSchemes: ['sasl'] })), false);
  assert.match(authConfigProblem(auth({ enforceAuthEnabled: true })) ?? '', /enforce\.auth\.schemes must be configured/);
  assert.match(authConfigProblem(auth({ sessionRequireClientSASLAuth: true })) ?? '', /scheme sasl is not available \(register it with authProvider/);
  assert.match(authConfigProblem(auth({ enforceAuthEnabled: true, enforceAuthSchemes: ['kerberos'] })) ?? '', /scheme kerberos is not available/);
  assert.equal(authConfigProblem(auth({ sessionRequireClientSASLAuth: true, providers: ['sasl'] })), null);
  assert.equal(authConfigProblem(auth({ enforceAuthEnabled: true, enforceAuthSchemes: ['ip', 'digest'] })), null);
});

test('JVM flags: the JAAS file from SERVER_JVMFLAGS and JVMFLAGS, zoo.cfg first', () => {
  const env = { SERVER_JVMFLAGS: '-Xmx1g -Djava.security.auth.login.config=/a.jaas', JVMFLAGS: `-Dx="a b" '-Djava.security.auth.login.config=/b c.jaas'` };
  const props = jvmSystemProperties(env);
  assert.equal(props.get('java.security.auth.login.config'), '/b c.jaas');
  assert.equal(props.get('x'), 'a b');
  const fromEnv = defaultAuthConfig();
  applyJvmFlags(fromEnv, { SERVER_JVMFLAGS: '-Djava.security.auth.login.config=/a.jaas' });
  assert.equal(fromEnv.jaasConfigPath, '/a.jaas');
  const fromCfg = { ...defaultAuthConfig(), jaasConfigPath: '/cfg.jaas' };
  applyJvmFlags(fromCfg, env);
  assert.equal(fromCfg.jaasConfigPath, '/cfg.jaas');
});

test('loading the JAAS file: clear errors for a bad file, Kerberos refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-jaas-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const load = (path: string, over: Partial<AuthConfig> = {}) => loadServerAuth({ ...defaultAuthConfig(), jaasConfigPath: path, ...over });
  const good = file('good.jaas', 'Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="pw"; };');
  assert.deepEqual([...load(good).credentials!], [['bob', 'pw']]);
  assert.throws(() => load(join(dir, 'missing.jaas')), /cannot read the JAAS configuration .*missing\.jaas/);
  assert.throws(() => load(file('syntax.jaas', 'Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="pw"\n};')), /syntax\.jaas line 3: expected/);
  assert.throws(() => load(good, { saslLoginContext: 'Other' }), /no JAAS configuration section named 'Other' was found in '.*good\.jaas' \(sections: Server\)/);
  const krb = file('krb.jaas', 'Server {\n  com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/k" principal="zookeeper/h@R";\n};');
  assert.throws(() => load(krb), /krb\.jaas line 2: com\.sun\.security\.auth\.module\.Krb5LoginModule asks for GSSAPI\/Kerberos, which Paddock does not support/);
  assert.throws(() => load(file('other.jaas', 'Server { com.example.Login required; };')), /login module com\.example\.Login is not supported/);
  assert.throws(() => load(good, { enforceAuthEnabled: true }), /refusing to start: enforce\.auth\.enabled is true/);
});

/** Runs a whole exchange for `user`/`password` through a conversation. */
function converse(conversation: SaslConversation, user: string, password: string) {
  const start = conversation.evaluate(Buffer.alloc(0));
  assert.equal(start.ok, true);
  return conversation.evaluate(clientResponse({ username: `"${user}"` }, password));
}

test('a connection\'s SASL outcome: ids, super users, and the failure code', () => {
  const jaas = parseJaas('Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="pw" user_super="su"; };');
  const make = (over: Partial<AuthConfig>) => createServerAuth({ ...defaultAuthConfig(), providers: ['sasl'], ...over }, { config: jaas, source: 'test.jaas' });
  const nonce = (): string => NONCE;

  const ok = converse(new SaslConversation(make({}), nonce), 'bob', 'pw');
  assert.deepEqual(ok.ok && ok.ids, [{ scheme: 'sasl', id: 'bob' }]);
  const superUser = converse(new SaslConversation(make({ superUsers: ['bob'] }), nonce), 'bob', 'pw');
  assert.deepEqual(superUser.ok && superUser.ids, [{ scheme: 'sasl', id: 'bob' }, { scheme: 'super', id: '' }]);
  // superPassword replaces the JAAS password of the user named super.
  assert.equal(converse(new SaslConversation(make({ superPassword: 'other' }), nonce), 'super', 'su').ok, false);
  assert.equal(converse(new SaslConversation(make({ superPassword: 'other' }), nonce), 'super', 'other').ok, true);

  // ZooKeeper 3.8's shared callback handler lets an unknown user in with the password of the
  // last user who authenticated; each Paddock exchange looks its user up afresh.
  const auth = make({});
  assert.equal(converse(new SaslConversation(auth, nonce), 'bob', 'pw').ok, true);
  assert.equal(converse(new SaslConversation(auth, nonce), 'eve', 'pw').ok, false);

  const failed = converse(new SaslConversation(make({}), nonce), 'bob', 'wrong');
  assert.deepEqual(failed.ok ? null : failed.err, Err.AUTHFAILED);
  const required = converse(new SaslConversation(make({ sessionRequireClientSASLAuth: true, allowSaslFailedClients: true }), nonce), 'bob', 'wrong');
  assert.deepEqual(required.ok ? null : required.err, Err.SESSIONCLOSEDREQUIRESASLAUTH);
  const allowed = converse(new SaslConversation(make({ allowSaslFailedClients: true }), nonce), 'bob', 'wrong');
  assert.deepEqual(allowed.ok && { token: allowed.token, ids: allowed.ids }, { token: null, ids: [] });

  // Without a JAAS file: OK, no token, no id, as ZooKeeper without JAAS.
  const none = new SaslConversation(createServerAuth(defaultAuthConfig(), null), nonce).evaluate(Buffer.alloc(0));
  assert.deepEqual(none, { ok: true, token: null, ids: [], log: null });
});

test('enforcement: a connection needs an id of an enforced scheme', () => {
  const ip = { scheme: 'ip', id: '127.0.0.1' };
  const none = createServerAuth(defaultAuthConfig(), null);
  assert.equal(authenticationMissing(none, [ip]), false);
  const sasl = createServerAuth({ ...defaultAuthConfig(), sessionRequireClientSASLAuth: true, providers: ['sasl'] }, null);
  assert.equal(authenticationMissing(sasl, [ip]), true);
  assert.equal(authenticationMissing(sasl, [ip, { scheme: 'digest', id: 'a:b' }]), true);
  assert.equal(authenticationMissing(sasl, [ip, { scheme: 'sasl', id: 'bob' }]), false);
  const ipOnly = createServerAuth({ ...defaultAuthConfig(), enforceAuthEnabled: true, enforceAuthSchemes: ['ip'] }, null);
  assert.equal(authenticationMissing(ipOnly, [ip]), false);
});
