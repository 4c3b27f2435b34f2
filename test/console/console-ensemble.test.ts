/**
 * The console's members view on a 3-member in-process ensemble: each member's console lists the
 * config's servers with the roles its peer knows (its own mode, the leader, and on the leader
 * the followers in broadcast with it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { leaderOf, startCluster, waitForPeers, type Cluster, type Member } from '../ensemble/cluster.js';
import { api } from './support.js';

interface MemberView {
  id: number;
  address: string;
  type: string;
  role: string;
  self: boolean;
}

let cluster: Cluster;
let leader: Member;

before(async () => {
  cluster = await startCluster(3, { adminEnableServer: true, adminServerAddress: '127.0.0.1', adminServerPort: 0 });
  leader = leaderOf(cluster)!;
  // The leader lists a follower as one once that follower is in broadcast with it.
  await waitForPeers(cluster, 30_000, 'every learner synced', () => leader.server!.server.quorumStatus!().syncedFollowers === 2);
});

after(async () => {
  await cluster?.close();
});

async function infoOf(m: Member): Promise<{ mode: string; leaderId: number | null; members: MemberView[] }> {
  const res = await api(`http://127.0.0.1:${m.server!.admin!.port}`, 'info');
  assert.equal(res.status, 200);
  return res.body as unknown as { mode: string; leaderId: number | null; members: MemberView[] };
}

test("the leader's console shows itself leading and both followers", async () => {
  const info = await infoOf(leader);
  assert.equal(info.mode, 'leader');
  assert.equal(info.leaderId, leader.id);
  assert.deepEqual(
    info.members.map((m) => [m.id, m.role, m.self]),
    cluster.members.map((m) => [m.id, m.id === leader.id ? 'leader' : 'follower', m.id === leader.id]),
  );
  for (const m of info.members) {
    const spec = cluster.servers[m.id - 1]!;
    assert.equal(m.address, `127.0.0.1:${spec.quorumPort}:${spec.electionPort}`);
    assert.equal(m.type, 'participant');
  }
});

test("a follower's console shows itself following, the leader, and the other follower as unknown", async () => {
  const follower = cluster.members.find((m) => m !== leader)!;
  const info = await infoOf(follower);
  assert.equal(info.mode, 'follower');
  assert.equal(info.leaderId, leader.id);
  const expected = (m: Member): string => (m === follower ? 'follower' : m === leader ? 'leader' : 'unknown');
  assert.deepEqual(
    info.members.map((m) => [m.id, m.role, m.self]),
    cluster.members.map((m) => [m.id, expected(m), m === follower]),
  );
});
