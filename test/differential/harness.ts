/**
 * Runs a generated sequence against one server through the raw client, normalises what came
 * back, and compares two runs op by op and session transcript by transcript.
 */
import { isDeepStrictEqual } from 'node:util';
import { OpCode, Perm, errName, opName, type Request } from '../../src/jute/index.js';
import { Prng } from '../../src/lib/prng.js';
import { RawClient, withTimeout, type Reply, type TranscriptEntry } from '../support/rawclient.js';
import type { DiffOp, Sequence } from './generator.js';
import { tolerated, type Difference } from './divergences.js';

export interface Target {
  name: string;
  host: string;
  port: number;
  /** A session outside the compared ones, used as a pipeline barrier. */
  admin?: RawClient;
}

/** What one op produced on one server, before normalisation. */
export type Outcome =
  | { kind: 'connected'; timeOut: number; readOnly: boolean | undefined; sessionId: bigint }
  | { kind: 'connectFailed'; error: string }
  | { kind: 'reply'; reply: Reply; closedAfter?: boolean }
  | { kind: 'connectionClosed' }
  | { kind: 'closed' }
  | { kind: 'expired' }
  | { kind: 'timeout'; what: string };

export interface Execution {
  target: Target;
  seq: Sequence;
  outcomes: Outcome[];
  /** Per session slot: the client and its full transcript. */
  clients: Map<number, RawClient>;
}

const REPLY_TIMEOUT_MS = 15_000;

/**
 * Connects once, waiting at most `deadlineMs` for the session. No retry is needed: the server
 * launchers return only once sessions are served (startTestServer when it listens,
 * startZooKeeper once `srvr` reports a Mode, which ZooKeeper gives only while serving), so a
 * refused session here is a real outcome, not a server still starting.
 */
export function connectWhenServing(
  target: { host: string; port: number },
  timeoutMs: number,
  deadlineMs = 30_000,
): Promise<RawClient> {
  return RawClient.connect(target.host, target.port, { timeoutMs, handshakeTimeoutMs: deadlineMs });
}

export async function execute(seq: Sequence, target: Target): Promise<Execution> {
  const outcomes: Outcome[] = new Array(seq.ops.length);
  const clients = new Map<number, RawClient>();
  let inflight: Promise<void>[] = [];
  let inflightSession = -1;

  const flush = async (): Promise<void> => {
    await Promise.all(inflight);
    inflight = [];
    inflightSession = -1;
  };
  const sendTracked = (i: number, session: number, req: Request): Promise<Reply | null> => {
    const c = clients.get(session);
    if (!c || c.closedReason) {
      outcomes[i] = { kind: 'connectionClosed' };
      return Promise.resolve(null);
    }
    return withTimeout(c.send(req), REPLY_TIMEOUT_MS, `reply to op ${i} (${opName(req.type)}) from ${target.name}`).then(
      (reply) => {
        outcomes[i] = { kind: 'reply', reply };
        return reply;
      },
      (e: Error) => {
        outcomes[i] = c.closedReason ? { kind: 'connectionClosed' } : { kind: 'timeout', what: e.message };
        return null;
      },
    );
  };

  try {
    for (let i = 0; i < seq.ops.length; i++) {
      const op = seq.ops[i]!;
      if (op.kind === 'request' && !op.barrier && (inflightSession === op.session || inflightSession === -1)) {
        inflightSession = op.session;
        inflight.push(sendTracked(i, op.session, op.req).then(() => undefined));
        continue;
      }
      await flush();
      switch (op.kind) {
        case 'connect': {
          try {
            const c = await connectWhenServing(target, op.timeoutMs, 5_000);
            clients.set(op.session, c);
            outcomes[i] = { kind: 'connected', timeOut: c.session.timeOut, readOnly: c.session.readOnly, sessionId: c.sessionId };
          } catch (e) {
            outcomes[i] = { kind: 'connectFailed', error: (e as Error).message };
          }
          break;
        }
        case 'close': {
          const c = clients.get(op.session);
          if (!c || c.closedReason) {
            outcomes[i] = { kind: 'connectionClosed' };
            break;
          }
          try {
            await c.close(REPLY_TIMEOUT_MS);
            outcomes[i] = { kind: 'closed' };
          } catch (e) {
            outcomes[i] = { kind: 'timeout', what: (e as Error).message };
          }
          break;
        }
        case 'expire': {
          const c = clients.get(op.session);
          if (!c || c.closedReason) {
            outcomes[i] = { kind: 'connectionClosed' };
            break;
          }
          try {
            await withTimeout(c.closed, 20 * c.session.timeOut + 5_000, `expiry of session slot ${op.session}`);
            await confirmExpired(target, c);
            outcomes[i] = { kind: 'expired' };
          } catch (e) {
            outcomes[i] = { kind: 'timeout', what: (e as Error).message };
          }
          break;
        }
        case 'request': {
          if (op.barrier) {
            const reply = await sendTracked(i, op.session, op.req);
            // A failed auth closes the connection: wait for that, so the next op sees it.
            if (reply && reply.header.err !== 0 && op.req.type === OpCode.auth) {
              const c = clients.get(op.session)!;
              const closed = await withTimeout(c.closed, 5_000, 'close after AUTHFAILED').then(
                () => true,
                () => false,
              );
              outcomes[i] = { kind: 'reply', reply, closedAfter: closed };
            }
          } else {
            inflightSession = op.session;
            inflight.push(sendTracked(i, op.session, op.req).then(() => undefined));
          }
          break;
        }
      }
    }
    await flush();
  } catch (e) {
    await Promise.allSettled(inflight);
    for (const c of clients.values()) c.destroy();
    throw e;
  }
  return { target, seq, outcomes, clients };
}

/**
 * The socket of an expiring session may close before its closeSession txn is applied (ZooKeeper's
 * connection expirer runs apart from its session tracker). Reconnecting with the session's id and
 * password until the server calls it expired proves the closeSession is underway; a request on
 * the admin session afterwards queues behind it, so its reply means it has been applied.
 */
async function confirmExpired(target: Target, c: RawClient): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let again: RawClient;
    try {
      again = await RawClient.connect(target.host, target.port, {
        timeoutMs: c.session.timeOut,
        sessionId: c.sessionId,
        passwd: c.session.passwd ?? Buffer.alloc(16),
      });
    } catch {
      break; // expired (or refused): the session is gone
    }
    if (attempt >= 5) throw new Error('session still alive after 5 expiry rounds');
    // Still alive: this reconnect touched it; let the server expire it again.
    await withTimeout(again.closed, 20 * c.session.timeOut + 5_000, 'expiry after reconnect');
  }
  if (target.admin) await withTimeout(target.admin.send({ type: OpCode.sync, path: '/' }), REPLY_TIMEOUT_MS, 'admin sync');
}

/**
 * Ends every session an execution left behind (not compared), including sessions whose connection
 * the server dropped (after AUTHFAILED): they would otherwise expire later, in the middle of
 * another sequence, and shift its zxids.
 */
export async function closeAll(ex: Execution): Promise<void> {
  await Promise.all(
    [...ex.clients.entries()].map(async ([slot, c]) => {
      const ended = ex.outcomes.some(
        (o, i) => (o?.kind === 'closed' || o?.kind === 'expired') && ex.seq.ops[i]?.session === slot,
      );
      if (!c.closedReason) return c.close(REPLY_TIMEOUT_MS).catch(() => c.destroy());
      if (ended) return;
      try {
        const again = await RawClient.connect(ex.target.host, ex.target.port, {
          timeoutMs: c.session.timeOut,
          sessionId: c.sessionId,
          passwd: c.session.passwd ?? Buffer.alloc(16),
        });
        await again.close(REPLY_TIMEOUT_MS);
      } catch {
        // Already gone (expired or closed): nothing left to end.
      }
    }),
  );
}

/** Deletes a subtree through an admin (super) client, children first, pipelined by level. */
export async function deleteTree(admin: RawClient, root: string): Promise<void> {
  const levels: string[][] = [[root]];
  for (;;) {
    const last = levels[levels.length - 1]!;
    const replies = await Promise.all(last.map((p) => admin.send({ type: OpCode.getChildren, path: p, watch: false })));
    const next: string[] = [];
    replies.forEach((r, i) => {
      if (r.header.err === 0) {
        for (const c of (r.body as { children: string[] }).children) next.push(`${last[i]}/${c}`);
      }
    });
    if (next.length === 0) break;
    levels.push(next);
  }
  for (let l = levels.length - 1; l >= 0; l--) {
    const replies = await Promise.all(levels[l]!.map((p) => admin.send({ type: OpCode.delete, path: p, version: -1 })));
    replies.forEach((r, i) => {
      if (r.header.err !== 0 && r.header.err !== -101) {
        throw new Error(`cleanup: delete ${levels[l]![i]} failed with ${errName(r.header.err)}`);
      }
    });
  }
}

/**
 * Every node's child list, in the order the server lists it, level by level from `root`
 * (requests of a level pipelined). Nodes the admin may not read are listed with their error.
 */
export async function childLists(admin: RawClient, root = '/'): Promise<Map<string, string[] | string>> {
  const lists = new Map<string, string[] | string>();
  let level = [root];
  while (level.length > 0) {
    const replies = await Promise.all(level.map((p) => admin.send({ type: OpCode.getChildren, path: p, watch: false })));
    const next: string[] = [];
    replies.forEach((r, i) => {
      const path = level[i]!;
      if (r.header.err !== 0) {
        lists.set(path, errName(r.header.err));
        return;
      }
      const children = (r.body as { children: string[] }).children;
      lists.set(path, children);
      for (const c of children) next.push(path === '/' ? `/${c}` : `${path}/${c}`);
    });
    level = next;
  }
  return lists;
}

/**
 * Gives `path` a child set with a history that decides its order: it grows past several table
 * sizes, shrinks (the table does not), and takes some names back (they go to their bucket's
 * tail). Deterministic from `seed`; requests pipelined on the admin session, which keeps them
 * in order.
 */
export async function buildChildHistory(admin: RawClient, path: string, seed: number): Promise<void> {
  const rng = new Prng(seed);
  const acl = [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }];
  const create = (p: string): Promise<Reply> => admin.send({ type: OpCode.create, path: p, data: null, acl, flags: 0, ttl: -1 });
  const names: string[] = [];
  for (let i = 20 + rng.int(60); i > 0; i--) {
    names.push(rng.bool(0.5) ? `n-${String(rng.int(100_000)).padStart(10, '0')}` : Array.from({ length: 1 + rng.int(6) }, () => String.fromCharCode(97 + rng.int(26))).join(''));
  }
  const unique = [...new Set(names)];
  const removed = unique.filter(() => rng.bool(0.7));
  const readded = removed.filter(() => rng.bool(0.3));
  const replies = await Promise.all([
    create(path),
    ...unique.map((n) => create(`${path}/${n}`)),
    ...removed.map((n) => admin.send({ type: OpCode.delete, path: `${path}/${n}`, version: -1 })),
    ...readded.map((n) => create(`${path}/${n}`)),
  ]);
  const failed = replies.find((r) => r.header.err !== 0);
  if (failed) throw new Error(`building the child history of ${path} failed with ${errName(failed.header.err)}`);
}

/** The first node whose child list differs between two childLists results, or null. */
export function firstChildListDifference(
  reference: Map<string, string[] | string>,
  target: Map<string, string[] | string>,
): { path: string; reference: unknown; target: unknown } | null {
  for (const path of new Set([...reference.keys(), ...target.keys()])) {
    const a = reference.get(path);
    const b = target.get(path);
    if (!isDeepStrictEqual(a, b)) return { path, reference: a ?? 'absent', target: b ?? 'absent' };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Normalisation

const STAT_KEYS = ['czxid', 'mzxid', 'ctime', 'mtime', 'version', 'cversion', 'aversion', 'ephemeralOwner', 'dataLength', 'numChildren', 'pzxid'];

class Normaliser {
  private readonly zxids = new Map<number, string>();
  private readonly sessions = new Map<bigint, string>();
  private unknownSessions = 0;

  bindSession(id: bigint, slot: number): void {
    this.sessions.set(id, `S${slot}`);
  }

  zxid(v: number): number | string {
    if (v <= 0) return v;
    let z = this.zxids.get(v);
    if (!z) this.zxids.set(v, (z = `Z${this.zxids.size}`));
    return z;
  }

  session(v: bigint): string | number {
    if (v === 0n) return 0;
    let s = this.sessions.get(v);
    if (!s) this.sessions.set(v, (s = `S?${this.unknownSessions++}`));
    return s;
  }

  value(v: unknown): unknown {
    if (v === null || v === undefined) return v ?? null;
    if (Buffer.isBuffer(v)) return `0x${v.toString('hex')}`;
    if (typeof v === 'bigint') return this.session(v);
    // Child lists, ephemerals and whoAmI ids too are compared in order: Paddock lists them in
    // the iteration order of ZooKeeper's hash sets.
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (STAT_KEYS.every((k) => k in o)) {
        return {
          czxid: this.zxid(o.czxid as number),
          mzxid: this.zxid(o.mzxid as number),
          ctime: 0,
          mtime: 0,
          version: o.version,
          cversion: o.cversion,
          aversion: o.aversion,
          ephemeralOwner: this.session(o.ephemeralOwner as bigint),
          dataLength: o.dataLength,
          numChildren: o.numChildren,
          pzxid: this.zxid(o.pzxid as number),
        };
      }
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) out[k] = this.value(x);
      return out;
    }
    return v;
  }

  outcome(o: Outcome | undefined): unknown {
    if (!o) return { kind: 'notRun' };
    switch (o.kind) {
      case 'connected':
        return { kind: o.kind, timeOut: o.timeOut, readOnly: o.readOnly };
      case 'reply': {
        const h = o.reply.header;
        const out: Record<string, unknown> = {
          err: h.err === 0 ? 0 : `${errName(h.err)}(${h.err})`,
          zxid: this.zxid(h.zxid),
          body: this.value(o.reply.body),
        };
        if (o.closedAfter !== undefined) out.closedAfter = o.closedAfter;
        return out;
      }
      case 'connectFailed':
        return { kind: o.kind };
      default:
        return o;
    }
  }
}

/** A session's transcript with replies replaced by the op index they answer, events without zxid. */
function transcriptOf(ex: Execution, slot: number): unknown[] {
  const c = ex.clients.get(slot);
  if (!c) return [];
  const opOf = new Map<object, number>();
  ex.outcomes.forEach((o, i) => {
    if (o?.kind === 'reply') opOf.set(o.reply.header, i);
  });
  const out = c.transcript.map((e: TranscriptEntry) => {
    if (e.kind === 'reply') return `reply to op ${opOf.get(e.header) ?? `? (xid ${e.xid}, ${opName(e.type)})`}`;
    if (e.kind === 'event') return { event: e.event.type, state: e.event.state, path: e.event.path };
    return 'connection closed';
  });
  // An expiring session's own last events (its ephemerals' deletion) race with the socket close.
  if (ex.seq.ops.some((op) => op.kind === 'expire' && op.session === slot)) {
    const closed = out[out.length - 1] === 'connection closed';
    const lastReply = out.map((x) => typeof x === 'string' && x.startsWith('reply')).lastIndexOf(true);
    return [...out.slice(0, lastReply + 1), ...(closed ? ['connection closed'] : [])];
  }
  return out;
}

export interface Comparison {
  differences: Difference[];
  tolerated: { difference: Difference; divergence: string }[];
}

export function compare(seq: Sequence, a: Execution, b: Execution): Comparison {
  const na = new Normaliser();
  const nb = new Normaliser();
  for (const [n, ex] of [
    [na, a],
    [nb, b],
  ] as const) {
    ex.outcomes.forEach((o, i) => {
      const op = seq.ops[i]!;
      if (o?.kind === 'connected') n.bindSession(o.sessionId, op.session);
    });
  }
  const differences: Difference[] = [];
  const tol: Comparison['tolerated'] = [];
  const report = (d: Difference): void => {
    const t = tolerated(d);
    if (t) tol.push({ difference: d, divergence: t.id });
    else differences.push(d);
  };
  for (let i = 0; i < seq.ops.length; i++) {
    const va = na.outcome(a.outcomes[i]);
    const vb = nb.outcome(b.outcomes[i]);
    if (!isDeepStrictEqual(va, vb)) report({ opIndex: i, op: seq.ops[i], where: 'reply', reference: va, paddock: vb });
  }
  const slots = new Set<number>();
  for (const op of seq.ops) slots.add(op.session);
  for (const slot of [...slots].sort((x, y) => x - y)) {
    const ta = transcriptOf(a, slot);
    const tb = transcriptOf(b, slot);
    const n = Math.max(ta.length, tb.length);
    for (let k = 0; k < n; k++) {
      if (!isDeepStrictEqual(ta[k], tb[k])) {
        const opIndex = firstOpIndexAround(ta, tb, k);
        report({
          opIndex,
          op: seq.ops[opIndex],
          where: `transcript of session slot ${slot}, entry ${k}`,
          reference: ta.slice(Math.max(0, k - 3), k + 4),
          paddock: tb.slice(Math.max(0, k - 3), k + 4),
        });
        break;
      }
    }
  }
  differences.sort((x, y) => x.opIndex - y.opIndex);
  return { differences, tolerated: tol };
}

function firstOpIndexAround(ta: unknown[], tb: unknown[], k: number): number {
  for (const t of [ta, tb]) {
    for (let j = k; j >= 0; j--) {
      const e = t[j];
      if (typeof e === 'string' && e.startsWith('reply to op ')) {
        const n = Number(e.slice('reply to op '.length));
        if (Number.isInteger(n)) return j === k ? n : n + 1;
      }
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Reporting

export function describeOp(op: DiffOp | undefined): string {
  if (!op) return '(none)';
  if (op.kind !== 'request') return `${op.kind} session ${op.session}`;
  return `session ${op.session}: ${describeRequest(op.req)}${op.barrier ? ' [barrier]' : ''}`;
}

function describeRequest(req: Request): string {
  const fields = Object.entries(req)
    .filter(([k]) => k !== 'type')
    .map(([k, v]) => {
      if (k === 'ops') return `ops=[${(v as Request[]).map(describeRequest).join('; ')}]`;
      if (Buffer.isBuffer(v)) return `${k}=0x${v.toString('hex')}`;
      return `${k}=${JSON.stringify(v)}`;
    });
  return `${opName(req.type)}(${fields.join(', ')})`;
}

export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}
