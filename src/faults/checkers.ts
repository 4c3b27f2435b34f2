/**
 * The checkers other than linearizability, each a pure function of the history (and, where the
 * final state matters, of what was read after healing). Each returns the violations it found, as
 * readable sentences naming the ops.
 */
import { compareZxid, type Op } from './history.js';
import { describe } from './linearizability.js';

export interface Violation {
  checker: string;
  message: string;
  /** Indexes of the ops involved. */
  ops: number[];
}

function byInvoke(a: Op, b: Op): number {
  return a.invokeMs - b.invokeMs || a.index - b.index;
}

function groupBy<K>(ops: readonly Op[], key: (op: Op) => K): Map<K, Op[]> {
  const out = new Map<K, Op[]>();
  for (const op of ops) {
    const k = key(op);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(op);
  }
  return out;
}

/**
 * Per-session sequential consistency: within one session the reply zxids never go back (FIFO
 * and no time travel on reconnect), and a read of a key never returns a state older (lower
 * mzxid) than one this session already wrote or read for that key.
 */
export function checkSessions(ops: readonly Op[]): Violation[] {
  const out: Violation[] = [];
  const sessions = groupBy(
    ops.filter((op) => op.outcome === 'ok' && op.session !== null),
    (op) => `${op.client}/${op.session}`,
  );
  for (const [name, list] of sessions) {
    list.sort(byInvoke);
    let last: Op | null = null;
    const seen = new Map<string, Op>();
    for (const op of list) {
      if (op.lastZxid !== undefined && last?.lastZxid !== undefined && compareZxid(op.lastZxid, last.lastZxid) < 0) {
        out.push({
          checker: 'session',
          message: `session ${name} went back in time: op #${op.index} saw zxid ${op.lastZxid} after op #${last.index} saw ${last.lastZxid}`,
          ops: [last.index, op.index],
        });
      }
      if (op.lastZxid !== undefined) last = op;
      if (op.mzxid === undefined || !['write', 'cas', 'read', 'sync-read'].includes(op.kind)) continue;
      const before = seen.get(op.key);
      if ((op.kind === 'read' || op.kind === 'sync-read') && before?.mzxid !== undefined && compareZxid(op.mzxid, before.mzxid) < 0) {
        out.push({
          checker: 'session',
          message: `stale read in session ${name}: op #${op.index} (${describe(op)}) read ${op.key} at mzxid ${op.mzxid}, older than mzxid ${before.mzxid} seen by op #${before.index} (${describe(before)})`,
          ops: [before.index, op.index],
        });
      }
      if (before?.mzxid === undefined || compareZxid(op.mzxid, before.mzxid) > 0) seen.set(op.key, op);
    }
  }
  return out;
}

export interface FinalRegister {
  value: string | null;
  version: number;
}

/**
 * No acknowledged write lost: after healing, each register's version is at least the highest
 * version any acknowledged write produced, and at that very version holds that write's value.
 */
export function checkLostWrites(ops: readonly Op[], finals: ReadonlyMap<string, FinalRegister>): Violation[] {
  const out: Violation[] = [];
  const acked = groupBy(
    ops.filter((op) => (op.kind === 'write' || op.kind === 'cas') && op.outcome === 'ok' && op.version !== undefined),
    (op) => op.key,
  );
  for (const [key, list] of acked) {
    const top = list.reduce((a, b) => ((b.version as number) > (a.version as number) ? b : a));
    const final = finals.get(key);
    if (final === undefined) {
      out.push({ checker: 'lost-writes', message: `${key} could not be read after healing`, ops: [top.index] });
      continue;
    }
    if (final.version < (top.version as number)) {
      out.push({
        checker: 'lost-writes',
        message: `acknowledged write lost on ${key}: op #${top.index} (${describe(top)}) made version ${top.version}, but after healing the version is ${final.version} (value ${JSON.stringify(final.value)})`,
        ops: [top.index],
      });
    } else if (final.version === top.version && final.value !== (top.value ?? null)) {
      out.push({
        checker: 'lost-writes',
        message: `acknowledged write lost on ${key}: version ${top.version} was op #${top.index}'s ${JSON.stringify(top.value)}, but after healing it holds ${JSON.stringify(final.value)}`,
        ops: [top.index],
      });
    }
  }
  return out;
}

function sequenceNumber(name: string): number {
  const m = /(\d{10})$/.exec(name);
  return m ? Number(m[1]) : NaN;
}

/**
 * Sequential creates: names unique; one client's names increasing; a create that started after
 * another finished got a higher number (the counter is linearizable); and every acknowledged
 * name is still listed after healing (the final list-seq op), with no name nobody created.
 */
export function checkSequential(ops: readonly Op[]): Violation[] {
  const out: Violation[] = [];
  const creates = ops.filter((op) => op.kind === 'create-seq' && op.outcome === 'ok' && op.created !== undefined);
  const byName = new Map<string, Op>();
  for (const op of creates) {
    const other = byName.get(op.created as string);
    if (other) out.push({ checker: 'sequential', message: `duplicate sequential name ${op.created}: ops #${other.index} and #${op.index}`, ops: [other.index, op.index] });
    else byName.set(op.created as string, op);
  }
  for (const [client, list] of groupBy(creates, (op) => op.client)) {
    list.sort(byInvoke);
    for (let i = 1; i < list.length; i++) {
      const [a, b] = [list[i - 1] as Op, list[i] as Op];
      if (a.key === b.key && sequenceNumber(b.created as string) <= sequenceNumber(a.created as string)) {
        out.push({ checker: 'sequential', message: `client ${client}'s sequential names went down: ${a.created} (op #${a.index}) then ${b.created} (op #${b.index})`, ops: [a.index, b.index] });
      }
    }
  }
  // Real-time order: sort by completion, and compare each create with the highest number completed before it started.
  for (const [, list] of groupBy(creates, (op) => op.key)) {
    const done = [...list].sort((a, b) => (a.completeMs as number) - (b.completeMs as number));
    const started = [...list].sort(byInvoke);
    let j = 0;
    let best: Op | null = null;
    for (const op of started) {
      while (j < done.length && (done[j] as Op).completeMs! < op.invokeMs) {
        const d = done[j++] as Op;
        if (best === null || sequenceNumber(d.created as string) > sequenceNumber(best.created as string)) best = d;
      }
      if (best !== null && sequenceNumber(op.created as string) <= sequenceNumber(best.created as string)) {
        out.push({
          checker: 'sequential',
          message: `sequential numbers out of real-time order: op #${op.index} got ${op.created} though op #${best.index} had already got ${best.created}`,
          ops: [best.index, op.index],
        });
      }
    }
  }
  for (const list of ops.filter((op) => op.kind === 'list-seq' && op.outcome === 'ok')) {
    const present = new Set(list.children ?? []);
    const missing = creates.filter((c) => c.key === list.key && !present.has((c.created as string).split('/').pop() as string));
    if (missing.length > 0) {
      const first = missing.slice(0, 3).map((op) => `${op.created} (op #${op.index})`);
      out.push({ checker: 'sequential', message: `${missing.length} acknowledged sequential nodes missing after healing, e.g. ${first.join(', ')}`, ops: [...missing.map((op) => op.index), list.index] });
    }
    const okNames = new Set(creates.filter((c) => c.key === list.key).map((c) => (c.created as string).split('/').pop()));
    const unknown = [...present].filter((n) => !okNames.has(n));
    // Timed-out creates may have made nodes we never learned the names of; more than that is a phantom.
    const infoCount = ops.filter((op) => op.kind === 'create-seq' && op.key === list.key && op.outcome === 'info').length;
    if (unknown.length > infoCount) {
      out.push({ checker: 'sequential', message: `${unknown.length} unexplained nodes under ${list.key} (only ${infoCount} creates had unknown outcome): ${unknown.slice(0, 5).join(', ')}`, ops: [list.index] });
    }
  }
  return out;
}

/** Counters: after healing the value lies between the acknowledged increments and all attempted ones. */
export function checkCounters(ops: readonly Op[], finals: ReadonlyMap<string, number>): Violation[] {
  const out: Violation[] = [];
  for (const [key, list] of groupBy(ops.filter((op) => op.kind === 'incr'), (op) => op.key)) {
    const ok = list.filter((op) => op.outcome === 'ok').length;
    const maybe = list.filter((op) => op.outcome === 'info').length;
    const final = finals.get(key);
    if (final === undefined) out.push({ checker: 'counter', message: `counter ${key} could not be read after healing`, ops: [] });
    else if (final < ok || final > ok + maybe) {
      out.push({ checker: 'counter', message: `counter ${key} is ${final} after healing; ${ok} increments were acknowledged and ${maybe} unknown`, ops: [] });
    }
  }
  return out;
}

/**
 * Ephemerals: after healing, every ephemeral node listed (final list-eph op) belongs to a session
 * still alive; one owned by a session that expired or closed should have gone with it.
 */
export function checkEphemerals(ops: readonly Op[], liveSessions: ReadonlySet<string>): Violation[] {
  const out: Violation[] = [];
  for (const list of ops.filter((op) => op.kind === 'list-eph' && op.outcome === 'ok')) {
    for (const [name, owner] of Object.entries(list.owners ?? {})) {
      if (!liveSessions.has(owner)) {
        const creator = ops.find((op) => op.kind === 'create-eph' && op.created?.endsWith(`/${name}`));
        out.push({
          checker: 'ephemeral',
          message: `ephemeral ${list.key}/${name} outlived its session 0x${owner}${creator ? ` (created by op #${creator.index})` : ''}`,
          ops: creator ? [creator.index, list.index] : [list.index],
        });
      }
    }
  }
  return out;
}

/**
 * Mutex with fencing tokens: accepted resource writes, in the order the resource took them
 * (version), carry increasing tokens; and no holder's write is accepted after it started later
 * than another holder's acquisition completed (two holders acting at once).
 */
export function checkMutex(ops: readonly Op[]): Violation[] {
  const out: Violation[] = [];
  const accepted = ops.filter((op) => op.kind === 'fenced-write' && op.outcome === 'ok' && op.version !== undefined);
  for (const [, writes] of groupBy(accepted, (op) => op.key)) {
    writes.sort((a, b) => (a.version as number) - (b.version as number));
    for (let i = 1; i < writes.length; i++) {
      const [a, b] = [writes[i - 1] as Op, writes[i] as Op];
      if (BigInt(b.token as string) < BigInt(a.token as string)) {
        out.push({ checker: 'mutex', message: `resource ${b.key} accepted token ${b.token} (op #${b.index}) after the newer token ${a.token} (op #${a.index})`, ops: [a.index, b.index] });
      }
    }
  }
  const locks = ops.filter((op) => op.kind === 'lock' && op.outcome === 'ok' && op.token !== undefined);
  for (const w of accepted) {
    const newer = locks.find(
      (l) => (w.lock === undefined || l.key === w.lock) && l.token !== w.token && BigInt(l.token as string) > BigInt(w.token as string) && (l.completeMs as number) < w.invokeMs,
    );
    if (newer) {
      out.push({
        checker: 'mutex',
        message: `two holders: client ${w.client}'s write with token ${w.token} (op #${w.index}) was accepted, though it started after client ${newer.client} acquired ${newer.key} with token ${newer.token} (op #${newer.index})`,
        ops: [newer.index, w.index],
      });
    }
  }
  return out;
}

/** Every server's tree, node by node (path -> a digest of data, version and owner), identical after healing. */
export function checkTrees(trees: ReadonlyMap<number, ReadonlyMap<string, string>>): Violation[] {
  const out: Violation[] = [];
  const ids = [...trees.keys()].sort((a, b) => a - b);
  const first = ids[0];
  if (first === undefined) return out;
  const base = trees.get(first) as ReadonlyMap<string, string>;
  for (const id of ids.slice(1)) {
    const other = trees.get(id) as ReadonlyMap<string, string>;
    const diffs: string[] = [];
    for (const [path, digest] of base) {
      const d = other.get(path);
      if (d === undefined) diffs.push(`${path} missing on server ${id}`);
      else if (d !== digest) diffs.push(`${path} differs (server ${first}: ${digest}, server ${id}: ${d})`);
    }
    for (const path of other.keys()) if (!base.has(path)) diffs.push(`${path} only on server ${id}`);
    if (diffs.length > 0) {
      out.push({ checker: 'trees', message: `server ${first} and server ${id} disagree on ${diffs.length} nodes: ${diffs.slice(0, 5).join('; ')}`, ops: [] });
    }
  }
  return out;
}
