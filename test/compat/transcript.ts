/**
 * Shared machinery of the real-client compatibility suite: run one scenario against Apache
 * ZooKeeper (the expected transcript) and against the target server, normalise what legitimately
 * differs between runs (times, session ids, zxids, ports), and compare line by line with a
 * readable diff.
 */
import assert from 'node:assert/strict';
import { startCompatTarget, startVerifiedZooKeeper, compatTargetName, type CompatTargetOptions, type TargetName } from '../support/paddock.js';

/**
 * Maps run-specific values to stable placeholders by first appearance, per kind, so that
 * equalities (this node's owner is that session, this mZxid is that cZxid) are still compared.
 */
export class Placeholders {
  private readonly maps = new Map<string, Map<string, string>>();

  get(kind: string, value: string): string {
    let m = this.maps.get(kind);
    if (!m) this.maps.set(kind, (m = new Map()));
    let p = m.get(value);
    if (p === undefined) m.set(value, (p = `<${kind}#${m.size + 1}>`));
    return p;
  }
}

/** True for ephemeralOwner values that are not sessions: 0, container and TTL markers. */
export function isSpecialOwner(hex: string): boolean {
  const v = BigInt(hex);
  return v === 0n || v >= 0x8000000000000000n;
}

/** A line diff (LCS) with a few lines of context; '-' expected (ZooKeeper), '+' actual. */
export function lineDiff(expected: readonly string[], actual: readonly string[], context = 3): string {
  const n = expected.length;
  const m = actual.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = expected[i] === actual[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: Array<{ tag: ' ' | '-' | '+'; line: string }> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && expected[i] === actual[j]) {
      ops.push({ tag: ' ', line: expected[i++]! });
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ tag: '-', line: expected[i++]! });
    else ops.push({ tag: '+', line: actual[j++]! });
  }
  const keep = new Array<boolean>(ops.length).fill(false);
  ops.forEach((op, k) => {
    if (op.tag === ' ') return;
    for (let c = Math.max(0, k - context); c <= Math.min(ops.length - 1, k + context); c++) keep[c] = true;
  });
  const out: string[] = [];
  let skipped = false;
  ops.forEach((op, k) => {
    if (!keep[k]) {
      if (!skipped) out.push('   ...');
      skipped = true;
      return;
    }
    skipped = false;
    out.push(`${op.tag}  ${op.line}`);
  });
  return out.join('\n');
}

export function assertSameTranscript(expected: readonly string[], actual: readonly string[], what: string): void {
  if (expected.length === actual.length && expected.every((l, k) => l === actual[k])) return;
  assert.fail(
    `${what}: the target's transcript differs from Apache ZooKeeper's ` +
      `(- ZooKeeper, + target; ${expected.length} vs ${actual.length} lines)\n${lineDiff(expected, actual)}`,
  );
}

export interface ComparedRun {
  target: TargetName;
  expected: string[];
  actual: string[];
}

/**
 * Starts Apache ZooKeeper and the target side by side, runs the scenario against each in turn
 * (ZooKeeper first), and asserts that the transcripts match.
 */
export async function compareWithZooKeeper(
  what: string,
  scenario: (connectString: string, side: 'reference' | 'target') => Promise<string[]>,
  /** Server settings; `zookeeper` applies to the reference (and to a ZooKeeper target). */
  options: CompatTargetOptions = {},
): Promise<ComparedRun> {
  const targetName = compatTargetName();
  console.log(`# ${what}: target = ${targetName} (expected transcript from Apache ZooKeeper 3.8)`);
  const debug = (msg: string): void => {
    if (process.env.PADDOCK_COMPAT_DEBUG) console.log(`# ${what}: ${msg}`);
  };
  // One after the other: a server binding port 0 could otherwise take the port freePort() just
  // handed to ZooKeeper.
  const zk = await startVerifiedZooKeeper(options.zookeeper);
  const target = await startCompatTarget(targetName, options).catch(async (err: unknown) => {
    await zk.stop();
    throw err;
  });
  debug(`ZooKeeper on ${zk.connectString}, ${targetName} on ${target.connectString}`);
  try {
    const expected = await scenario(zk.connectString, 'reference').catch((err: unknown) => {
      throw labelled(err, `${what}: the run against Apache ZooKeeper (the reference) failed`);
    });
    debug('reference run done');
    const actual = await scenario(target.connectString, 'target').catch((err: unknown) => {
      throw labelled(err, `${what}: the run against the target (${targetName}) failed`);
    });
    debug('target run done');
    if (process.env.PADDOCK_COMPAT_VERBOSE) console.log(expected.map((l) => `# ${l}`).join('\n'));
    assert.ok(expected.length > 0, 'the reference transcript is empty');
    assertSameTranscript(expected, actual, `${what} against ${targetName}`);
    return { target: targetName, expected, actual };
  } finally {
    await Promise.all([withTimeout(zk.stop(), 15_000, 'stopping ZooKeeper'), withTimeout(target.stop(), 15_000, `stopping ${targetName}`)]);
  }
}

function labelled(err: unknown, context: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  e.message = `${context}: ${e.message}`;
  return e;
}

/** Bounds a cleanup step so a stuck server cannot hang the test run; reports instead of throwing. */
async function withTimeout(p: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      console.log(`# ${what} did not finish within ${ms} ms`);
      resolve();
    }, ms);
  });
  try {
    await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
