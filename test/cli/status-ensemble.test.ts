/**
 * `paddock status zoo.cfg` on a 3-member ensemble (in-process members, the command as a real
 * process): every server.N's mode, zxid, connections and version, which one leads, and a member
 * that is down reported as not running.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leaderOf, startCluster, type Cluster } from '../ensemble/cluster.js';
import { VERSION_LINE } from '../../src/server/fourletter.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface StatusJson {
  config: string;
  running: number;
  leader: string | null;
  servers: { id: string; host: string; port: number; ok: boolean; mode?: string; version?: string; zxid?: string; connections?: number }[];
}

let cluster: Cluster;
let dir: string;
let cfgPath: string;

before(async () => {
  cluster = await startCluster(3);
  dir = mkdtempSync(join(tmpdir(), 'paddock-status-'));
  cfgPath = join(dir, 'zoo.cfg');
  // As an operator's shared zoo.cfg: each server.N line carries its client address.
  const lines = cluster.servers.map((s) => `server.${s.id}=127.0.0.1:${s.quorumPort}:${s.electionPort};127.0.0.1:${cluster.members[s.id - 1]!.clientPort}`);
  writeFileSync(cfgPath, ['tickTime=200', 'initLimit=25', 'syncLimit=10', 'dataDir=/var/lib/zookeeper', 'clientPort=2181', ...lines].join('\n') + '\n');
});

after(async () => {
  await cluster?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI without blocking this process, whose event loop serves the members. */
function status(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, 'status', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

test('every member: its mode, zxid, connections and version, and the leader named', async () => {
  const leader = leaderOf(cluster)!;
  const r = await status([cfgPath, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as StatusJson;
  assert.equal(out.running, 3);
  assert.equal(out.leader, String(leader.id));
  assert.deepEqual(
    out.servers.map((s) => [s.id, s.port, s.mode]),
    cluster.members.map((m) => [String(m.id), m.clientPort, m === leader ? 'leader' : 'follower']),
  );
  for (const s of out.servers) {
    const member = cluster.members[Number(s.id) - 1]!;
    assert.equal(s.version, VERSION_LINE);
    assert.equal(s.zxid, `0x${member.server!.server.lastZxid().toString(16)}`);
    // The status command's own connection is the one open.
    assert.equal(s.connections, 1);
  }
  const text = await status([cfgPath]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^server\\.${leader.id} 127\\.0\\.0\\.1:${leader.clientPort}\\n  Mode: leader$`, 'm'));
  assert.match(text.stdout, new RegExp(`^Ensemble: 3 of 3 servers running, leader server\\.${leader.id}$`, 'm'));
});

test('a member that is down is reported as not running, and the exit status is 1', async () => {
  const leader = leaderOf(cluster)!;
  const down = cluster.members.find((m) => m !== leader)!;
  await cluster.stop(down.id);
  const r = await status([cfgPath, '--json', '-timeout', '5000']);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as StatusJson;
  assert.equal(out.running, 2);
  assert.equal(out.servers.find((s) => s.id === String(down.id))!.mode, 'not running');
  const text = await status([cfgPath]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, new RegExp(`^server\\.${down.id} 127\\.0\\.0\\.1:${down.clientPort}\\n  Mode: not running\\n  Error contacting service`, 'm'));
  assert.match(text.stdout, /^Ensemble: 2 of 3 servers running, leader server\.\d$/m);
});
