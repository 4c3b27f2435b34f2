/**
 * Quotas, as ZooKeeper keeps them: `/zookeeper/quota<path>/zookeeper_limits` holds the limits and
 * `.../zookeeper_stats` the current usage, both as StatsTrack text ("count=N,bytes=M", plus
 * 3.7+'s ";byteHardLimit=..;countHardLimit=.." keys). Only the deepest quota above a node counts.
 */

export const QUOTA_ROOT = '/zookeeper/quota';
export const LIMIT_NODE = 'zookeeper_limits';
export const STAT_NODE = 'zookeeper_stats';

export function limitPath(quotaPath: string): string {
  return QUOTA_ROOT + quotaPath + '/' + LIMIT_NODE;
}

export function statPath(quotaPath: string): string {
  return QUOTA_ROOT + quotaPath + '/' + STAT_NODE;
}

/** The quota path a node under /zookeeper/quota configures, or null if it is not under it. */
export function quotaPathOf(quotaNodeParent: string): string | null {
  if (!quotaNodeParent.startsWith(QUOTA_ROOT + '/')) return null;
  return quotaNodeParent.substring(QUOTA_ROOT.length);
}

/** ZooKeeper's StatsTrack: key=value pairs, missing values read as -1. */
export class StatsTrack {
  private readonly values = new Map<string, number>();

  constructor(text = '') {
    for (const pair of text.split(/[,;]+/)) {
      if (pair.length === 0) continue;
      const [key, value] = pair.split('=');
      const n = value === undefined || value === '' ? -1 : Number(value);
      this.values.set(key!, Number.isInteger(n) ? n : -1);
    }
  }

  static fromBytes(data: Buffer | null): StatsTrack {
    return new StatsTrack(data === null ? '' : data.toString('utf8'));
  }

  get(key: string): number {
    return this.values.get(key) ?? -1;
  }

  set(key: string, value: number): void {
    this.values.set(key, value);
  }

  get count(): number {
    return this.get('count');
  }

  get bytes(): number {
    return this.get('bytes');
  }

  get countHardLimit(): number {
    return this.get('countHardLimit');
  }

  get byteHardLimit(): number {
    return this.get('byteHardLimit');
  }

  /** count and bytes first; other keys sorted after an extra '=' that old parsers ignore. */
  toString(): string {
    let out = `count=${this.count},bytes=${this.bytes}`;
    const rest = [...this.values.keys()].filter((k) => k !== 'count' && k !== 'bytes').sort();
    if (rest.length > 0) out += '=' + rest.map((k) => `;${k}=${this.values.get(k)}`).join('');
    return out;
  }

  toBytes(): Buffer {
    return Buffer.from(this.toString(), 'utf8');
  }
}

/** The set of paths with a quota, answering "deepest quota above this path" by walking up. */
export class QuotaIndex {
  private readonly paths = new Set<string>();

  add(path: string): void {
    this.paths.add(path);
  }

  delete(path: string): void {
    this.paths.delete(path);
  }

  has(path: string): boolean {
    return this.paths.has(path);
  }

  all(): string[] {
    return [...this.paths];
  }

  /** The deepest quota path that is `path` or an ancestor of it; never '/'. */
  maxPrefix(path: string): string | null {
    if (this.paths.size === 0) return null;
    for (let p = path; p.length > 1; p = p.substring(0, Math.max(p.lastIndexOf('/'), 1))) {
      if (this.paths.has(p)) return p;
    }
    return null;
  }

  clear(): void {
    this.paths.clear();
  }
}

/**
 * ZooKeeperServer.checkQuota: false when the change would cross a hard limit. Soft limits
 * (count/bytes) are only logged by ZooKeeper, so they never fail here.
 */
export function withinQuota(limits: StatsTrack, usage: StatsTrack, addedBytes: number, addedCount: number): boolean {
  if (addedCount !== 0 && limits.countHardLimit > -1 && usage.count + addedCount > limits.countHardLimit) return false;
  if (addedBytes !== 0 && limits.byteHardLimit > -1 && usage.bytes + addedBytes > limits.byteHardLimit) return false;
  return true;
}
