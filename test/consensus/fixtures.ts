/** Packets, txns and leader options the consensus tests build again and again. */
import { OpCode } from '../../src/jute/constants.js';
import { encodeTxn } from '../../src/jute/txn.js';
import type { LeaderOptions } from '../../src/consensus/leader.js';
import type { LogEntry } from '../../src/consensus/learner.js';
import { MajorityQuorum, type QuorumServerSpec } from '../../src/consensus/members.js';
import type { QuorumPacket } from '../../src/consensus/wire.js';
import type { Zxid } from '../../src/consensus/zxid.js';
import type { QuorumLeaderOptions } from '../../src/server/quorum/leader-driver.js';
import { freePort } from '../support/ports.js';

export const pkt = (type: number, zxid: bigint, data: Buffer | null = null): QuorumPacket => ({ type, zxid, data, authinfo: null });

/** The txn of a PROPOSAL that creates `path` (session 0, open ACL). */
export function createTxn(zxid: Zxid, path: string): Buffer {
  return encodeTxn({
    header: { sessionId: 0n, cxid: 1, zxid: Number(zxid), time: 1000, type: OpCode.create },
    body: { type: OpCode.create, path, data: Buffer.from('x'), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeral: false, parentCVersion: 0 },
  });
}

/** Server 1 leading participants 1..3 in epoch 1, with `log` as its history. */
export function leaderOptions(log: LogEntry[]): LeaderOptions {
  return {
    myId: 1n,
    quorum: new MajorityQuorum([1n, 2n, 3n].map((sid) => ({ sid, type: 'participant' as const }))),
    acceptedEpoch: 1n,
    currentEpoch: 1n,
    log,
    config: Buffer.from('version=0'),
    initLimitTicks: 10,
    syncLimitTicks: 5,
  };
}

/**
 * A QuorumLeader's options as server 3 of participants 1..3 on loopback (fresh ports), in epoch
 * 0 with no log, listening on its quorum port; tests add a store, snapshot or tick of their own.
 */
export async function loopbackLeaderOptions(tickTimeMs: number): Promise<QuorumLeaderOptions & { port: number }> {
  const members: QuorumServerSpec[] = [];
  for (let sid = 1n; sid <= 3n; sid++) members.push({ sid, type: 'participant', host: '127.0.0.1', quorumPort: await freePort(), electionPort: await freePort() });
  return {
    myId: 3n,
    quorum: new MajorityQuorum(members),
    acceptedEpoch: 0n,
    currentEpoch: 0n,
    log: [],
    config: Buffer.from('version=0'),
    initLimitTicks: 100,
    syncLimitTicks: 50,
    host: '127.0.0.1',
    port: members[2]!.quorumPort,
    tickTimeMs,
  };
}
