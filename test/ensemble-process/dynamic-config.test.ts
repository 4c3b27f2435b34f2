/**
 * A ZooKeeper ensemble with reconfigEnabled=true moves its server.N lines out of zoo.cfg into
 * the file `dynamicConfigFile` names (zoo.cfg.dynamic.100000000) on its first start. Paddock must
 * start from that rewritten zoo.cfg as it is, the step a rolling migration of such an ensemble
 * takes: kill -9 one ZooKeeper server, run `paddock server` on its zoo.cfg and data directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { quorumPorts, startZooKeeperPeer, waitForModes, type ZooKeeperPeer } from '../consensus/zk-quorum.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const skip = skipUnlessZooKeeper();

/** Runs `paddock server cfg`; resolves with the process once its log matches `ready`. */
function startPaddock(cfg: string, ready: RegExp, timeoutMs: number): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(process.execPath, [MAIN, 'server', cfg], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PADDOCK_LOG_LEVEL: 'info' } });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`paddock: no ${ready} within ${timeoutMs} ms\n${log}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (!ready.test(log)) return;
      clearTimeout(timer);
      resolve({ child, log: () => log });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`paddock exited (${code})\n${log}`));
    });
  });
}

/** ZooKeeper rewrites zoo.cfg once the ensemble has agreed on its membership (a file: polled). */
async function rewrittenConfig(path: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readFileSync(path, 'utf8');
    if (/^dynamicConfigFile=/m.test(text) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a ZooKeeper server of a reconfigEnabled ensemble (server lines in its dynamic file) is replaced by Paddock from the same zoo.cfg', { skip, timeout: 180_000 }, async (t) => {
  const members = await quorumPorts(3);
  const zk: ZooKeeperPeer[] = members.map((m) => startZooKeeperPeer(m.sid, members, 500, undefined, { config: ['reconfigEnabled=true', 'maxSessionTimeout=40000'] }));
  const clients: ZooKeeperClient[] = [];
  let paddock: ChildProcess | null = null;
  t.after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    paddock?.kill('SIGKILL');
    for (const z of zk) await z.stop();
  });
  await waitForModes(zk, ['leader', 'follower', 'follower'], 60_000);
  const cfgPath = join(zk[2]!.dataDir, 'zoo.cfg');
  const rewritten = await rewrittenConfig(cfgPath, 30_000);
  assert.match(rewritten, /^dynamicConfigFile=.*\.dynamic\.[0-9a-f]+$/m, 'ZooKeeper moved the server lines into a dynamic file');
  assert.doesNotMatch(rewritten, /^server\.\d+=/m);

  const zkClient = await connect(`127.0.0.1:${zk[0]!.clientPort}`, { sessionTimeoutMs: 10_000 });
  clients.push(zkClient);
  await zkClient.create('/dynamic', 'before');
  await zk[2]!.kill();

  const started = await startPaddock(cfgPath, /server 3 synced with leader \d+/, 60_000);
  paddock = started.child;
  assert.doesNotMatch(started.log(), /refusing|dynamicConfigFile/);
  const paddockClient = await connect(`127.0.0.1:${members[2]!.clientPort}`, { sessionTimeoutMs: 10_000 });
  clients.push(paddockClient);
  assert.equal((await paddockClient.getData('/dynamic')).data.toString(), 'before');
  await paddockClient.create('/dynamic/through-paddock', '');
  await zkClient.sync('/dynamic');
  assert.deepEqual(await zkClient.getChildren('/dynamic'), ['through-paddock']);
});
