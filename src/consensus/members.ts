/**
 * Ensemble membership as the quorum protocol sees it: who votes (QuorumMaj), and the config
 * text every notification carries (QuorumMaj.toString / QuorumServer.toString).
 */
import { formatHostPort } from './wire.js';

export type LearnerType = 'participant' | 'observer';

export interface QuorumMember {
  sid: bigint;
  type: LearnerType;
  /**
   * Only a hierarchical quorum gives weights; a majority quorum weighs every server 1. A
   * weight of 0 keeps a server from ever being preferred in the vote order.
   */
  weight?: number;
}

/** A member with the addresses ZooKeeper writes for it in the config text. */
export interface QuorumServerSpec extends QuorumMember {
  host: string;
  quorumPort: number;
  electionPort: number;
  /** Written only when the client address is part of the server line (not a clientPort= line). */
  clientAddress?: { host: string; port: number };
}

/** A majority quorum over the participants (QuorumMaj): observers never count. */
export class MajorityQuorum {
  readonly voters: ReadonlySet<bigint>;
  private readonly weights: ReadonlyMap<bigint, number>;
  private readonly half: number;

  constructor(members: readonly QuorumMember[]) {
    this.voters = new Set(members.filter((m) => m.type === 'participant').map((m) => m.sid));
    this.weights = new Map(members.filter((m) => m.weight !== undefined).map((m) => [m.sid, m.weight!]));
    this.half = Math.floor(this.voters.size / 2);
  }

  isVoter(sid: bigint): boolean {
    return this.voters.has(sid);
  }

  /** QuorumMaj.getWeight answers 1 for any id, members or not, unless a weight was given. */
  weight(sid: bigint): number {
    return this.weights.get(sid) ?? 1;
  }

  /** True when the voters among `acks` are more than half of all voters. */
  containsQuorum(acks: Iterable<bigint>): boolean {
    let count = 0;
    for (const sid of acks) if (this.voters.has(sid)) count++;
    return count > this.half;
  }
}

/**
 * The config text a 3.8 server sends in its notifications, e.g.
 * "server.1=127.0.0.1:2888:3888:participant\nversion=0". Members are written in sid order (the
 * order Java's HashMap of small Long keys gives) and the version in lowercase hex.
 */
export function quorumConfigText(servers: readonly QuorumServerSpec[], version: bigint): string {
  const lines = [...servers]
    .sort((a, b) => (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0))
    .map((s) => {
      const address = `${formatHostPort(s.host, s.quorumPort)}:${s.electionPort}`;
      const client = s.clientAddress ? `;${formatHostPort(s.clientAddress.host, s.clientAddress.port)}` : '';
      return `server.${s.sid}=${address}:${s.type}${client}`;
    });
  lines.push(`version=${version.toString(16)}`);
  return lines.join('\n');
}
