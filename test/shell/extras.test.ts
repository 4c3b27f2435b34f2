/**
 * What `paddock shell` adds to zkCli (--json, tree, find, view, watch, export/import) and
 * `paddock status`, run as the command a user types, against an in-process Paddock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, digestId, type ZooKeeperClient } from '../../src/index.js';
import { startPaddock, type PaddockProcess } from '../support/paddock.js';
import { freePort } from '../support/ports.js';
import { MAIN, paddockShell, runProcess } from './zkcli.js';

describe('paddock shell extras and paddock status', () => {
  let paddock: PaddockProcess;
  let zk: ZooKeeperClient;
  let dir: string;
  const sh = (...args: string[]) => paddockShell(paddock.connectString, args);
  before(async () => {
    paddock = await startPaddock();
    zk = await connect(paddock.connectString);
    dir = mkdtempSync(join(tmpdir(), 'paddock-shell-'));
    await zk.create('/app', '{"name":"demo","n":1}');
    await zk.create('/app/text', 'plain words');
    await zk.create('/app/bin', Buffer.from([0, 1, 2, 255]));
    await zk.create('/app/secret', 's3', { acl: [{ perms: 31, id: digestId('u', 'p') }, { perms: 1, id: { scheme: 'world', id: 'anyone' } }] });
  });
  after(async () => {
    await zk?.close();
    await paddock?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('--json: one JSON value on standard output, errors as JSON with the code', async () => {
    const ls = await sh('--json', 'ls', '/app');
    assert.equal(ls.code, 0);
    assert.deepEqual(JSON.parse(ls.stdout).sort(), ['bin', 'secret', 'text']);
    const get = await sh('--json', 'get', '-s', '/app/text');
    const value = JSON.parse(get.stdout) as { data: string; stat: { dataLength: number; version: number } };
    assert.equal(value.data, 'plain words');
    assert.equal(value.stat.dataLength, 11);
    const missing = await sh('--json', 'get', '/nope');
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.deepEqual(JSON.parse(missing.stderr), { error: 'NONODE', message: 'Node does not exist: /nope' });
  });

  test('tree shows the subtree with sizes; find matches names and data', async () => {
    const tree = await sh('tree', '/app');
    assert.equal(tree.code, 0);
    assert.deepEqual(tree.stdout.trim().split('\n'), ['/app (21 B, 3 children)', '  bin (4 B)', '  secret (2 B)', '  text (11 B)']);
    const byName = await sh('find', '/', '-n', 't*');
    assert.deepEqual(byName.stdout.trim().split('\n').sort(), ['/app/text']);
    const byData = await sh('find', '/app', '-d', 'words');
    assert.equal(byData.stdout.trim(), '/app/text');
  });

  test('view shows data as JSON, text or hex, as it looks', async () => {
    assert.equal((await sh('view', '/app')).stdout, '{\n  "name": "demo",\n  "n": 1\n}\n');
    assert.equal((await sh('view', '/app/text')).stdout, 'plain words\n');
    assert.equal((await sh('view', '/app/bin')).stdout, `00000000  ${'00 01 02 ff'.padEnd(47)}  |....|\n`);
  });

  test('export and import a subtree as JSON, ACLs included', async () => {
    const file = join(dir, 'app.json');
    const exp = await sh('export', '/app', file);
    assert.equal(exp.code, 0, exp.stderr);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { nodes: { path: string; encoding: string }[] };
    assert.deepEqual(doc.nodes.map((n) => n.path).sort(), ['/app', '/app/bin', '/app/secret', '/app/text']);
    assert.equal(doc.nodes.find((n) => n.path === '/app/bin')?.encoding, 'base64');
    const imp = await sh('import', file, '/copy');
    assert.equal(imp.code, 0, imp.stderr);
    assert.deepEqual((await zk.getData('/copy/bin')).data, Buffer.from([0, 1, 2, 255]));
    assert.deepEqual((await zk.getACL('/copy/secret')).acl, (await zk.getACL('/app/secret')).acl);
    assert.equal((await zk.getData('/copy')).data.toString(), '{"name":"demo","n":1}');
  });

  test('watch streams changes under a path until Ctrl-C (SIGINT), then exits 0', async () => {
    await zk.create('/w');
    const child = spawn(process.execPath, [MAIN, 'shell', '-server', paddock.connectString, 'watch', '/w'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const waitFor = (get: () => string, text: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${text}' within 10 s; stdout: ${out} stderr: ${err}`)), 10_000);
        const check = (): void => {
          if (!get().includes(text)) return;
          clearTimeout(timer);
          resolve();
        };
        child.stdout.on('data', (d: Buffer) => ((out += d.toString()), check()));
        child.stderr.on('data', (d: Buffer) => ((err += d.toString()), check()));
        check();
      });
    await waitFor(() => err, 'Watching /w');
    await zk.create('/w/x', 'one');
    await waitFor(() => out, 'created /w/x one');
    await zk.setData('/w/x', '{"v":2}');
    await waitFor(() => out, 'dataChanged /w/x {   "v": 2 }');
    await zk.delete('/w/x');
    await waitFor(() => out, 'deleted /w/x');
    child.kill('SIGINT');
    assert.equal(await exited, 0);
  });

  test('help: paddock help shell|status, shell -h, status -h', async () => {
    for (const args of [['help', 'shell'], ['help', 'status'], ['shell', '-h'], ['status', '-h']]) {
      const r = await runProcess(process.execPath, [MAIN, ...args], null);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, new RegExp(`^Usage: paddock ${args.includes('shell') ? 'shell' : 'status'} `), args.join(' '));
    }
  });

  test('status of one server: mode, version, zxid, connections', async () => {
    const r = await runProcess(process.execPath, [MAIN, 'status', '-server', paddock.connectString], null);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^127\.0\.0\.1:\d+\n {2}Mode: standalone\n {2}Version: .+\n {2}Zxid: 0x[0-9a-f]+\n {2}Connections: \d+\n/);
  });

  test('status of an ensemble from its zoo.cfg: each server.N, exit 1 when one does not answer', async () => {
    const dead = await freePort();
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(cfg, [`clientPort=${dead}`, `server.1=127.0.0.1:2888:3888;${paddock.port}`, 'server.2=127.0.0.1:2889:3889', ''].join('\n'));
    const r = await runProcess(process.execPath, [MAIN, 'status', cfg, '--json'], null);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout) as { servers: { id: string; port: number; ok: boolean; mode?: string }[] };
    assert.deepEqual(doc.servers.map((s) => [s.id, s.port, s.ok, s.mode]), [['1', paddock.port, true, 'standalone'], ['2', dead, false, 'not running']]);
  });
});
