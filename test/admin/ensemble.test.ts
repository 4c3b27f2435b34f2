/**
 * The AdminServer's ensemble commands on a 3-member Paddock ensemble, against what Apache
 * ZooKeeper 3.8 answers on a 3-server ensemble (zookeeper-ensemble.json, captured from a real
 * one: a leader and a follower): the same keys, and values that describe the same ensemble.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { leaderOf, startCluster, waitForPeers, type Cluster, type Member } from '../ensemble/cluster.js';
import { fourLetterWord } from '../support/zookeeper.js';
import { getJson, mntrKeys, shape } from './support.js';

type Answer = Record<string, unknown>;
type Role = 'leader' | 'follower';
const ZK = JSON.parse(readFileSync(new URL('../../../test/admin/zookeeper-ensemble.json', import.meta.url), 'utf8')) as Record<Role, Record<string, unknown>>;

let cluster: Cluster;
let members: Record<Role, Member>;

before(async () => {
  cluster = await startCluster(3, { adminEnableServer: true, adminServerAddress: '127.0.0.1', adminServerPort: 0 });
  const leader = leaderOf(cluster)!;
  members = { leader, follower: cluster.members.find((m) => m !== leader)! };
});

after(async () => {
  await cluster?.close();
});

function adminGet(role: Role, name: string): Promise<Answer> {
  return getJson(members[role].server!.admin!.port, `/commands/${name}`);
}

for (const role of ['leader', 'follower'] as const) {
  test(`${role}: leader, voting_view, zabstate, observers and server_stats have ZooKeeper's keys`, async () => {
    // current_config is keyed by sid: its entries are compared by shape, not by name.
    const dataKeys = new Set(['current_config']);
    for (const name of ['leader', 'voting_view', 'zabstate', 'observers', 'server_stats']) {
      assert.deepEqual(shape(await adminGet(role, name), dataKeys), shape(ZK[role][name], dataKeys), `${role} ${name}`);
    }
  });

  test(`${role}: leader and zabstate name this ensemble's leader and this member`, async () => {
    const me = members[role];
    const leaderId = members.leader.id;
    const lead = await adminGet(role, 'leader');
    assert.deepEqual({ is_leader: lead.is_leader, leader_id: lead.leader_id, leader_ip: lead.leader_ip }, { is_leader: role === 'leader', leader_id: leaderId, leader_ip: '127.0.0.1' });
    const zab = await adminGet(role, 'zabstate');
    const spec = cluster.servers[me.id - 1]!;
    assert.equal(zab.myid, me.id);
    assert.equal(zab.is_leader, role === 'leader');
    assert.equal(zab.voting, true);
    assert.equal(zab.zabstate, 'broadcast');
    assert.equal(zab.client_address, `127.0.0.1:${me.clientPort}`);
    assert.deepEqual((zab.quorum_address as Answer).all_addresses, [`127.0.0.1:${spec.quorumPort}`]);
    assert.deepEqual((zab.election_address as Answer).all_addresses, [`127.0.0.1:${spec.electionPort}`]);
    const zxid = BigInt(zab.last_zxid as string);
    assert.equal(BigInt(zab.zab_epoch as number), zxid >> 32n);
    assert.equal(BigInt(zab.zab_counter as number), zxid & 0xffffffffn);
  });

  test(`${role}: voting_view lists every voter, with this member's client address only`, async () => {
    const view = (await adminGet(role, 'voting_view')).current_config as Record<string, Answer>;
    assert.deepEqual(Object.keys(view).sort(), ['1', '2', '3']);
    for (const spec of cluster.servers) {
      const entry = view[String(spec.id)]!;
      assert.deepEqual(entry.server_addresses, [`127.0.0.1:${spec.quorumPort}`]);
      assert.deepEqual(entry.election_addresses, [`127.0.0.1:${spec.electionPort}`]);
      assert.equal(entry.learner_type, 'participant');
      assert.equal(entry.client_address, spec.id === members[role].id ? `127.0.0.1:${members[role].clientPort}` : '');
    }
  });

  test(`${role}: monitor and mntr carry the quorum keys ZooKeeper's ${role} does`, async () => {
    const monitor = await adminGet(role, 'monitor');
    const zkKeys = ZK[role].monitor_quorum_keys as string[];
    for (const key of zkKeys) assert.ok(key in monitor, `monitor lacks ${key}`);
    assert.deepEqual({ server_state: monitor.server_state, peer_state: monitor.peer_state }, ZK[role].monitor_states);
    assert.equal(monitor.quorum_size, 3);
    if (role === 'leader') {
      assert.equal(monitor.learners, 2);
      assert.equal(monitor.synced_followers, 2);
    }
    // The four-letter word has the same rows.
    const mntr = await fourLetterWord(members[role].clientPort, 'mntr', '127.0.0.1', 5000);
    const httpKeys = Object.keys(monitor).filter((k) => k !== 'command' && k !== 'error');
    assert.deepEqual(mntrKeys(mntr), httpKeys.sort());
    const stats = await adminGet(role, 'server_stats');
    assert.equal((stats.server_stats as Answer).server_state, role);
    assert.equal(((await adminGet(role, 'stats')).server_stats as Answer).server_state, role);
  });
}

test('observers on the leader counts its synced observers; none on a follower', async () => {
  const leaders = await adminGet('leader', 'observers');
  assert.deepEqual([leaders.synced_observers, leaders.observers], [0, []]);
  assert.equal((await adminGet('follower', 'observers')).synced_observers, 0);
});

test('with an observer: the leader lists it, voting_view leaves it out, its zabstate does not vote', async () => {
  const withObserver = await startCluster(3, { adminEnableServer: true, adminServerAddress: '127.0.0.1', adminServerPort: 0 }, 1);
  try {
    const lead = leaderOf(withObserver)!;
    const observer = withObserver.members[2]!;
    const get = (m: Member, name: string): Promise<Answer> => getJson(m.server!.admin!.port, `/commands/${name}`);
    // The observer is in broadcast once it reports its mode; the leader counts it from then.
    await waitForPeers(withObserver, 30_000, 'the observer synced', () => lead.server!.server.quorumStatus!().syncedObservers === 1);
    const obsr = await get(lead, 'observers');
    assert.deepEqual([obsr.synced_observers, obsr.observers], [1, [{ sid: 3 }]]);
    assert.deepEqual(Object.keys((await get(observer, 'voting_view')).current_config as Answer).sort(), ['1', '2']);
    const zab = await get(observer, 'zabstate');
    assert.deepEqual([zab.voting, zab.is_leader, zab.zabstate], [false, false, 'broadcast']);
    const lead3 = await get(observer, 'leader');
    assert.deepEqual([lead3.is_leader, lead3.leader_id], [false, lead.id]);
    assert.equal((await get(observer, 'monitor')).peer_state, 'observing - broadcast');
    assert.equal((await get(lead, 'monitor')).synced_observers, 1);
  } finally {
    await withObserver.close();
  }
});
