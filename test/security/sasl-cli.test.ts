/**
 * `paddock server` finds the JAAS file as ZooKeeper's scripts pass it (-D in SERVER_JVMFLAGS),
 * refuses Kerberos and bad files with one line, and then authenticates clients over the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpCode } from '../../src/jute/constants.js';
import { parseDirectives, responseValue } from '../../src/auth/sasl-digest.js';
import { freePort } from '../support/ports.js';
import { RawClient } from '../support/rawclient.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function setup(t: { after(fn: () => void): void }, jaas: string, extra = ''): { cfg: string; jaasPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-sasl-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const jaasPath = join(dir, 'server.jaas');
  writeFileSync(jaasPath, jaas);
  const cfg = join(dir, 'zoo.cfg');
  writeFileSync(cfg, `dataDir=${join(dir, 'data')}\nclientPortAddress=127.0.0.1\n${extra}`);
  return { cfg, jaasPath };
}

test('a Kerberos login or a broken JAAS file stops `paddock server` with one line', (t) => {
  const krb = setup(t, 'Server {\n  com.sun.security.auth.module.Krb5LoginModule required\n    useKeyTab=true;\n};\n', 'clientPort=2181\n');
  const r = spawnSync(process.execPath, [MAIN, 'server', krb.cfg], {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, SERVER_JVMFLAGS: `-Xmx1g -Djava.security.auth.login.config=${krb.jaasPath}` },
  });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[lines.length - 1]!, /server\.jaas line 2: com\.sun\.security\.auth\.module\.Krb5LoginModule asks for GSSAPI\/Kerberos, which Paddock does not support/);

  const broken = setup(t, 'Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n    user_bob="pw"\n};\n', 'clientPort=2181\n');
  const b = spawnSync(process.execPath, [MAIN, 'server', broken.cfg], {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, JVMFLAGS: `-Djava.security.auth.login.config=${broken.jaasPath}` },
  });
  assert.equal(b.status, 1, b.stderr);
  assert.match(b.stderr, /JAAS configuration .*server\.jaas line 4: expected an option name or ';'/);
});

/** Resolves once the child prints that it listens; rejects if it exits first or takes too long. */
function listening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
}

test('`paddock server` with the JAAS file from SERVER_JVMFLAGS authenticates DIGEST-MD5 clients', async (t) => {
  const port = await freePort();
  const { cfg, jaasPath } = setup(t, 'Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob="pw"; };\n',
    `clientPort=${port}\nauthProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nsessionRequireClientSASLAuth=true\n`);
  const child = spawn(process.execPath, [MAIN, 'server', cfg], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SERVER_JVMFLAGS: `-Djava.security.auth.login.config=${jaasPath}` },
  });
  t.after(() => void child.kill('SIGKILL'));
  await listening(child);
  const c = await RawClient.connect('127.0.0.1', port);
  try {
    const first = await c.send({ type: OpCode.sasl, token: Buffer.alloc(0) });
    const challenge = parseDirectives((first.body as { token: Buffer }).token.toString('latin1'));
    const p = {
      username: 'bob', realm: 'zk-sasl-md5', password: 'pw', nonce: challenge.get('nonce')!, nc: '00000001', cnonce: 'cn',
      qop: 'auth', digestUri: 'zookeeper/zk-sasl-md5', authzid: null, utf8: false,
    };
    const token = `username="bob",realm="zk-sasl-md5",nonce="${p.nonce}",nc=00000001,cnonce="cn",digest-uri="zookeeper/zk-sasl-md5",qop=auth,response=${responseValue(p, 'AUTHENTICATE')}`;
    const second = await c.send({ type: OpCode.sasl, token: Buffer.from(token) });
    assert.equal((second.body as { token: Buffer }).token.toString('latin1'), `rspauth=${responseValue(p, '')}`);
    const children = await c.send({ type: OpCode.getChildren, path: '/', watch: false });
    assert.equal(children.header.err, 0);
  } finally {
    await c.close();
  }
});
