/**
 * SASL DIGEST-MD5 and enforced authentication with real clients, against Apache ZooKeeper 3.8
 * and Paddock configured the same way (one zoo.cfg, one JAAS file; ZooKeeper gets the file as
 * -Djava.security.auth.login.config, Paddock as the zoo.cfg key of that name). Each scenario
 * gives a transcript per server; Paddock's must equal ZooKeeper's, and says what it must.
 *
 * Clients: zkCli (ZooKeeperMain) with a JAAS Client section, kazoo with sasl_options (puresasl),
 * and this project's raw wire client playing DIGEST-MD5 itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';
import { OpCode } from '../../src/jute/constants.js';
import { parseDirectives, responseValue } from '../../src/auth/sasl-digest.js';
import { kazooMissing, PYTHON, skipUnless } from '../support/clients.js';
import { startPaddock } from '../support/paddock.js';
import { RawClient, type Reply } from '../support/rawclient.js';
import { startVerifiedZooKeeper } from '../support/paddock.js';
import { skipUnlessZooKeeper, ZK_CLASSPATH } from '../support/zookeeper.js';
import { lineDiff } from '../compat/transcript.js';
import { runPythonScenario } from '../compat/python.js';

const KAZOO_SCRIPT = fileURLToPath(new URL('../../../test/security/sasl_kazoo.py', import.meta.url));

const SERVER_JAAS = `/* the server's DIGEST-MD5 users */
Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="pw";
};
`;
const clientJaas = (password: string): string => `Client {
  org.apache.zookeeper.server.auth.DigestLoginModule required
    username="bob"
    password="${password}";
};
`;

const SASL_PROVIDER = { 'authProvider.1': 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider' };

function puresaslMissing(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import puresasl'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? null : 'python puresasl is not installed (apt-get install python3-pure-sasl); kazoo needs it for sasl_options';
}

interface Files {
  dir: string;
  serverJaas: string;
  goodClient: string;
  wrongClient: string;
}

function writeFiles(): Files {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-sasl-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  return { dir, serverJaas: file('server.jaas', SERVER_JAAS), goodClient: file('bob.jaas', clientJaas('pw')), wrongClient: file('wrong.jaas', clientJaas('wrong')) };
}

interface Target {
  name: string;
  host: string;
  port: number;
}

/**
 * Runs `scenario` against ZooKeeper and then Paddock, both started with `config` and the JAAS
 * file, and returns both transcripts once they are known to be equal.
 */
async function compareTargets(files: Files, config: Record<string, string>, scenario: (t: Target) => Promise<string[]>): Promise<string[]> {
  const zk = await startVerifiedZooKeeper({ config, properties: { 'java.security.auth.login.config': files.serverJaas } });
  let expected: string[];
  try {
    expected = await scenario({ name: 'zookeeper', host: '127.0.0.1', port: zk.port });
  } finally {
    await zk.stop();
  }
  // Paddock reads the same keys from zoo.cfg text, its JAAS file included.
  const cfgText = Object.entries({ dataDir: files.dir, clientPort: '2181', ...config, 'java.security.auth.login.config': files.serverJaas })
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  const { config: parsed } = parseZooCfg(cfgText, { baseDir: files.dir });
  const paddock = await startPaddock({ auth: parsed.auth });
  let actual: string[];
  try {
    actual = await scenario({ name: 'paddock', host: '127.0.0.1', port: paddock.port });
  } finally {
    await paddock.stop();
  }
  assert.deepEqual(actual, expected, `Paddock's transcript differs from ZooKeeper's:\n${lineDiff(expected, actual)}`);
  return actual;
}

/** Event states zkCli printed, and its other output, without JVM noise. */
async function zkCli(t: Target, jaas: string | null, args: string[]): Promise<string[]> {
  const jvm = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx128m'];
  if (jaas !== null) jvm.push(`-Djava.security.auth.login.config=${jaas}`);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('/usr/bin/java', [...jvm, '-cp', ZK_CLASSPATH, 'org.apache.zookeeper.ZooKeeperMain', '-server', `${t.host}:${t.port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== null) reject(new Error(`zkCli ${args.join(' ')} against ${t.name} did not finish:\n${out}`));
      else resolve(out);
    });
  });
  const states = new Set<string>();
  const lines: string[] = [];
  for (const line of output.split('\n')) {
    const event = /^WatchedEvent state:(\w+)/.exec(line);
    // Whether a disconnect is printed before the JVM exits is a race in the client.
    if (event) {
      if (event[1] !== 'Disconnected' && event[1] !== 'Closed') states.add(event[1]!);
      continue;
    }
    if (line === '' || line === 'WATCHER::' || line.startsWith('SLF4J:') || line.startsWith('Connecting to ') || /^\d{4}-\d\d-\d\d/.test(line)) continue;
    lines.push(line);
  }
  return [`zkCli ${jaas === null ? 'anonymous' : jaas.endsWith('bob.jaas') ? 'bob' : 'wrong'} ${args.join(' ')}`, `  events: ${[...states].sort().join(',')}`, ...lines.map((l) => `  ${l}`)];
}

/** The raw client's view of one reply: its error code, and whether the server then closed. */
function replyLine(what: string, r: Reply | Error): string {
  return r instanceof Error ? `${what}: ${r.name}` : `${what}: err ${r.header.err}`;
}

async function send(c: RawClient, req: Parameters<RawClient['send']>[0]): Promise<Reply | Error> {
  return c.send(req).catch((e: Error) => e);
}

/** Plays the client side of DIGEST-MD5 over the wire: true when the server's rspauth checks out. */
async function digestMd5(c: RawClient, user: string, password: string, lines: string[]): Promise<void> {
  const first = await send(c, { type: OpCode.sasl, token: Buffer.alloc(0) });
  lines.push(replyLine('raw sasl start', first));
  if (first instanceof Error || first.header.err !== 0) return;
  const challenge = parseDirectives((first.body as { token: Buffer }).token.toString('latin1'));
  lines.push(`raw challenge: ${[...challenge.keys()].sort().join(',')} realm=${challenge.get('realm')} algorithm=${challenge.get('algorithm')}`);
  const params = {
    username: user, realm: challenge.get('realm') ?? '', password, nonce: challenge.get('nonce') ?? '',
    nc: '00000001', cnonce: 'paddock-test-cnonce', qop: 'auth', digestUri: 'zookeeper/zk-sasl-md5', authzid: null, utf8: true,
  };
  const response = `charset=utf-8,username="${user}",realm="${params.realm}",nonce="${params.nonce}",nc=00000001,cnonce="${params.cnonce}",` +
    `digest-uri="${params.digestUri}",maxbuf=65536,response=${responseValue(params, 'AUTHENTICATE')},qop=auth`;
  const second = await send(c, { type: OpCode.sasl, token: Buffer.from(response) });
  lines.push(replyLine('raw sasl response', second));
  if (second instanceof Error || second.header.err !== 0) return;
  const token = (second.body as { token: Buffer | null }).token;
  // allowSaslFailedClients: the failure is answered OK with no token.
  if (token === null) return void lines.push('raw sasl response without a token');
  const rspauth = token.toString('latin1');
  lines.push(`raw rspauth ${rspauth === `rspauth=${responseValue(params, '')}` ? 'verified' : `WRONG: ${rspauth}`}`);
}

async function rawSession(t: Target, name: string, body: (c: RawClient, lines: string[]) => Promise<void>): Promise<string[]> {
  const c = await RawClient.connect(t.host, t.port);
  const lines: string[] = [];
  try {
    await body(c, lines);
  } finally {
    await c.close();
  }
  return lines.map((l) => `${name} ${l}`);
}

/** A refused connection leaves its session: the client comes back to it, authenticated. */
async function resumedAfterRefusal(t: Target): Promise<string[]> {
  const lines: string[] = [];
  const first = await RawClient.connect(t.host, t.port);
  lines.push(replyLine('refused getChildren', await send(first, { type: OpCode.getChildren, path: '/', watch: false })));
  await first.closed;
  const again = await RawClient.connect(t.host, t.port, { sessionId: first.sessionId, passwd: first.session.passwd ?? undefined });
  try {
    lines.push(`same session again: ${again.sessionId === first.sessionId && again.session.timeOut > 0}`);
    await digestMd5(again, 'bob', 'pw', lines);
    lines.push(replyLine('getChildren', await send(again, { type: OpCode.getChildren, path: '/', watch: false })));
  } finally {
    await again.close();
  }
  return lines.map((l) => `resumed ${l}`);
}

test('SASL DIGEST-MD5: zkCli, kazoo and a raw client get the same answers from Paddock as from ZooKeeper', {
  skip: skipUnlessZooKeeper(), timeout: 300_000,
}, async (t) => {
  const files = writeFiles();
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const kazooSkip = skipUnless(kazooMissing(), puresaslMissing());
  if (kazooSkip) t.diagnostic(`kazoo part skipped: ${kazooSkip}`);
  const transcript = await compareTargets(files, SASL_PROVIDER, async (target) => [
    ...(await zkCli(target, files.goodClient, ['create', '/secret', 'top-secret', 'sasl:bob:cdrwa'])),
    ...(await zkCli(target, files.goodClient, ['getAcl', '/secret'])),
    ...(await zkCli(target, files.goodClient, ['whoami'])),
    ...(await zkCli(target, files.goodClient, ['get', '/secret'])),
    ...(await zkCli(target, null, ['get', '/secret'])),
    ...(await zkCli(target, files.wrongClient, ['get', '/secret'])),
    ...(kazooSkip ? [] : await runPythonScenario(KAZOO_SCRIPT, [`${target.host}:${target.port}`, '/secret'])),
    ...(await rawSession(target, 'bob', async (c, lines) => {
      await digestMd5(c, 'bob', 'pw', lines);
      const who = await c.send({ type: OpCode.whoAmI });
      lines.push(`whoami: ${(who.body as { clientInfo: Array<{ authScheme: string; user: string }> }).clientInfo.map((i) => `${i.authScheme}:${i.user}`).sort().join(' ')}`);
      lines.push(replyLine('getData', await send(c, { type: OpCode.getData, path: '/secret', watch: false })));
    })),
    ...(await rawSession(target, 'eve', async (c, lines) => {
      await digestMd5(c, 'eve', 'eves-password', lines);
      lines.push(replyLine('getData after the failure', await send(c, { type: OpCode.getData, path: '/secret', watch: false })));
    })),
    // A GSSAPI client opens with a Kerberos token: it is answered with the DIGEST-MD5 challenge
    // (which such a client cannot read), and its next token fails the exchange.
    ...(await rawSession(target, 'gssapi', async (c, lines) => {
      const opening = await send(c, { type: OpCode.sasl, token: Buffer.from('6082020a06092a864886f71201020201', 'hex') });
      const token = opening instanceof Error ? null : (opening.body as { token: Buffer } | null)?.token;
      lines.push(`${replyLine('opening token', opening)}, answered with ${token?.toString('latin1').startsWith('realm="zk-sasl-md5",nonce=') ? 'the DIGEST-MD5 challenge' : 'something else'}`);
      lines.push(replyLine('next token', await send(c, { type: OpCode.sasl, token: Buffer.from('608201', 'hex') })));
    })),
  ]);
  const text = transcript.join('\n');
  assert.match(text, /zkCli bob create \/secret top-secret sasl:bob:cdrwa\n {2}events: SaslAuthenticated,SyncConnected\n {2}Created \/secret/);
  assert.match(text, /zkCli bob getAcl \/secret\n.*\n {2}'sasl,'bob\n {2}: cdrwa/);
  assert.match(text, /zkCli bob whoami\n.*\n {2}Auth scheme: User\n {2}sasl: bob\n/);
  assert.match(text, /zkCli bob get \/secret\n.*\n {2}top-secret/);
  assert.match(text, /zkCli anonymous get \/secret\n.*\n {2}Insufficient permission : \/secret/);
  assert.match(text, /zkCli wrong get \/secret\n {2}events: AuthFailed/);
  assert.match(text, /bob raw rspauth verified\nbob whoami: ip:127.0.0.1 sasl:bob\nbob getData: err 0/);
  assert.match(text, /eve raw sasl response: err -115\neve getData after the failure: ConnectionClosedError/);
  assert.match(text, /gssapi opening token: err 0, answered with the DIGEST-MD5 challenge\ngssapi next token: err -115/);
  if (!kazooSkip) {
    assert.match(text, /bob: connected\nbob get: top-secret\nbob create: \/secret-kazoo\nbob acl: \['sasl:bob:31'\]/);
    assert.match(text, /wrong: AuthFailedError/);
    assert.match(text, /anonymous get: NoAuthError/);
  }
});

test('enforce.auth: unauthenticated clients are refused as ZooKeeper 3.8 refuses them', {
  skip: skipUnlessZooKeeper(), timeout: 300_000,
}, async (t) => {
  const files = writeFiles();
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const config = { ...SASL_PROVIDER, 'enforce.auth.enabled': 'true', 'enforce.auth.schemes': 'sasl,digest' };
  const transcript = await compareTargets(files, config, async (target) => [
    ...(await zkCli(target, null, ['ls', '/'])),
    ...(await zkCli(target, files.goodClient, ['ls', '/'])),
    ...(await zkCli(target, files.wrongClient, ['ls', '/'])),
    ...(await rawSession(target, 'anonymous', async (c, lines) => {
      lines.push(replyLine('getData', await send(c, { type: OpCode.getData, path: '/', watch: false })));
      lines.push(replyLine('then exists', await send(c, { type: OpCode.exists, path: '/', watch: false })));
    })),
    ...(await resumedAfterRefusal(target)),
    ...(await rawSession(target, 'digest', async (c, lines) => {
      lines.push(replyLine('addauth', await send(c, { type: OpCode.auth, authType: 0, scheme: 'digest', auth: Buffer.from('alice:pw') })));
      lines.push(replyLine('getData', await send(c, { type: OpCode.getData, path: '/', watch: false })));
    })),
    ...(await rawSession(target, 'eve', async (c, lines) => {
      await digestMd5(c, 'eve', 'eves-password', lines);
    })),
    ...(await rawSession(target, 'bob', async (c, lines) => {
      await digestMd5(c, 'bob', 'pw', lines);
      lines.push(replyLine('getData', await send(c, { type: OpCode.getData, path: '/', watch: false })));
    })),
  ]);
  const text = transcript.join('\n');
  assert.match(text, /zkCli anonymous ls \/\n.*\n {2}KeeperErrorCode = Session closed because client failed to authenticate for \//);
  assert.match(text, /zkCli bob ls \/\n.*\n {2}\[zookeeper\]/);
  assert.match(text, /anonymous getData: err -124\nanonymous then exists: ConnectionClosedError/);
  assert.match(text, /resumed refused getChildren: err -124\nresumed same session again: true\n(.*\n){3}resumed raw rspauth verified\nresumed getChildren: err 0/);
  assert.match(text, /digest addauth: err 0\ndigest getData: err 0/);
  // With sasl among the enforced schemes a failed exchange is answered -124, not AUTHFAILED.
  assert.match(text, /eve raw sasl response: err -124/);
  assert.match(text, /bob raw rspauth verified\nbob getData: err 0/);
});

test('allowSaslFailedClients and superUser, and sessionRequireClientSASLAuth, as in ZooKeeper', {
  skip: skipUnlessZooKeeper(), timeout: 300_000,
}, async (t) => {
  const files = writeFiles();
  t.after(() => rmSync(files.dir, { recursive: true, force: true }));
  const whoami = async (c: RawClient, lines: string[]): Promise<void> => {
    const who = await send(c, { type: OpCode.whoAmI });
    if (who instanceof Error || who.header.err !== 0) return void lines.push(replyLine('whoami', who));
    lines.push(`whoami: ${(who.body as { clientInfo: Array<{ authScheme: string; user: string }> }).clientInfo.map((i) => `${i.authScheme}:${i.user}`).sort().join(' ')}`);
  };
  const lenient = await compareTargets(files, { ...SASL_PROVIDER, allowSaslFailedClients: 'true', superUser: 'bob' }, async (target) => [
    ...(await zkCli(target, files.wrongClient, ['ls', '/'])),
    ...(await rawSession(target, 'eve', async (c, lines) => {
      await digestMd5(c, 'eve', 'eves-password', lines);
      await whoami(c, lines);
    })),
    ...(await rawSession(target, 'bob', async (c, lines) => {
      await digestMd5(c, 'bob', 'pw', lines);
      await whoami(c, lines);
      lines.push(replyLine('create with an ACL bob cannot read', await send(c, {
        type: OpCode.create, path: '/locked', data: Buffer.from('x'), acl: [{ perms: 1, id: { scheme: 'digest', id: 'alice:x' } }], flags: 0, ttl: -1,
      })));
      // super passes every ACL check.
      lines.push(replyLine('read it as super', await send(c, { type: OpCode.getData, path: '/locked', watch: false })));
    })),
  ]);
  const text = lenient.join('\n');
  assert.match(text, /eve raw sasl response: err 0\neve raw sasl response without a token\neve whoami: ip:127\.0\.0\.1$/m);
  assert.match(text, /bob whoami: ip:127\.0\.0\.1 sasl:bob super:\n/);
  assert.match(text, /bob read it as super: err 0/);

  const strict = await compareTargets(files, { ...SASL_PROVIDER, sessionRequireClientSASLAuth: 'true', allowSaslFailedClients: 'true' }, async (target) => [
    ...(await zkCli(target, null, ['ls', '/'])),
    ...(await zkCli(target, files.wrongClient, ['ls', '/'])),
    ...(await zkCli(target, files.goodClient, ['ls', '/'])),
    ...(await rawSession(target, 'digest', async (c, lines) => {
      lines.push(replyLine('addauth', await send(c, { type: OpCode.auth, authType: 0, scheme: 'digest', auth: Buffer.from('alice:pw') })));
      lines.push(replyLine('getData', await send(c, { type: OpCode.getData, path: '/', watch: false })));
    })),
    ...(await rawSession(target, 'eve', async (c, lines) => {
      await digestMd5(c, 'eve', 'eves-password', lines);
    })),
  ]);
  const strictText = strict.join('\n');
  assert.match(strictText, /zkCli bob ls \/\n.*\n {2}\[zookeeper\]/);
  assert.match(strictText, /digest addauth: err 0\ndigest getData: err -124/);
  // allowSaslFailedClients does not apply when SASL is required.
  assert.match(strictText, /eve raw sasl response: err -124/);
});
