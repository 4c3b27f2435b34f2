/**
 * The ensemble admin commands of a live Apache ZooKeeper 3.8 ensemble (3 servers with their
 * AdminServers) against a 3-member Paddock ensemble's: the same keys for the leader and for a
 * follower, and the quorum keys of monitor. (test/admin/ensemble.test.ts checks Paddock's values,
 * against answers recorded from such an ensemble, where ZooKeeper cannot run.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quorumPorts, startZooKeeperPeer, waitForMode, type ZooKeeperPeer } from '../consensus/zk-quorum.js';
import { leaderOf, startCluster, type Cluster } from '../ensemble/cluster.js';
import { freePort } from '../support/ports.js';
import { skipUnlessZooKeeper } from '../support/zookeeper.js';
import { getJson, shape } from './support.js';

const skip = skipUnlessZooKeeper();
const COMMANDS = ['leader', 'voting_view', 'zabstate', 'observers', 'server_stats', 'stats'];
const QUORUM_KEYS = /^(server_state|peer_state|quorum_size|learners|synced_\w+|pending_syncs|leader_uptime|\w+_proposal_size)$/;

/** GET /commands/<name> until the AdminServer answers (it starts after the peer). */
async function adminGet(port: number, name: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await getJson(port, `/commands/${name}`);
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

test('leader, voting_view, zabstate, observers, stats and monitor: the same keys as a ZooKeeper 3.8 ensemble', { skip, timeout: 240_000 }, async () => {
  const members = await quorumPorts(3);
  const adminPorts = [await freePort(), await freePort(), await freePort()];
  const zks: ZooKeeperPeer[] = members.map((m, i) => startZooKeeperPeer(m.sid, members, 500, adminPorts[i]));
  let cluster: Cluster | null = null;
  try {
    const modes = await Promise.all(zks.map((z) => waitForMode(z, 120_000)));
    cluster = await startCluster(3, { adminEnableServer: true, adminServerAddress: '127.0.0.1', adminServerPort: 0 });
    const paddockLeader = leaderOf(cluster)!;
    const paddockFollower = cluster.members.find((m) => m !== paddockLeader)!;
    const zkPort = { leader: adminPorts[modes.indexOf('leader')]!, follower: adminPorts[modes.indexOf('follower')]! };
    const paddockPort = { leader: paddockLeader.server!.admin!.port, follower: paddockFollower.server!.admin!.port };
    const dataKeys = new Set(['current_config']);
    for (const role of ['leader', 'follower'] as const) {
      for (const name of COMMANDS) {
        const zk = await adminGet(zkPort[role], name);
        const ours = await adminGet(paddockPort[role], name);
        // Connections are data: the lists differ with the clients each has.
        delete zk.connections;
        delete ours.connections;
        assert.deepEqual(shape(ours, dataKeys), shape(zk, dataKeys), `${role} ${name}`);
      }
      const zkMonitor = await adminGet(zkPort[role], 'monitor');
      const ourMonitor = await adminGet(paddockPort[role], 'monitor');
      const quorumKeys = (m: Record<string, unknown>): string[] => Object.keys(m).filter((k) => QUORUM_KEYS.test(k)).sort();
      assert.ok(quorumKeys(zkMonitor).includes('quorum_size'), `ZooKeeper's ${role} reports quorum_size`);
      assert.deepEqual(quorumKeys(ourMonitor), quorumKeys(zkMonitor), `${role} monitor`);
      assert.deepEqual([ourMonitor.server_state, ourMonitor.peer_state], [zkMonitor.server_state, zkMonitor.peer_state]);
    }
  } finally {
    await cluster?.close();
    await Promise.all(zks.map((z) => z.stop()));
  }
});
