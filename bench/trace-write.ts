#!/usr/bin/env node
/**
 * The timeline of a lone write in a 3-member Paddock ensemble: the members run with
 * PADDOCK_TRACE (src/io/trace.ts) and stamp each step of the write path; this joins their stamps
 * by (session, cxid) and zxid and prints, for writes sent to the leader and writes forwarded by
 * a follower, the median time of each step after the client sent the request.
 *
 *   node dist/bench/trace-write.js [--writes 3000] [--mode depth1|lone] [--cli other/dist/src/cli/main.js]
 *
 * `depth1` is ens-ab's set-depth1 (one session per member, one request outstanding each);
 * `lone` sends one write at a time over the whole ensemble, members in turn, so that no other
 * write shares a member's event loop or disk.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpCode } from '../src/jute/constants.js';
import { requestKey } from '../src/io/trace.js';
import { flags } from './args.js';
import { BenchClient, encodeRequest } from './client.js';
import { OPEN_ACL } from './workloads.js';
import { ensemblePeers, fourLetterWord, freePort, startServerProc, type ServerProc } from './servers.js';

interface Options {
  writes: number;
  mode: 'depth1' | 'lone';
  cli: string | null;
}

/** One write as the client saw it: which member, its key, and when it left and came back (ns). */
interface Sent {
  member: number;
  key: string;
  sentNs: number;
  repliedNs: number;
}

interface Stamp {
  ns: number;
  point: string;
  key: string;
}

const MAX_WRITES = 100_000;

function parseArgs(argv: string[]): Options {
  const o: Options = { writes: 3000, mode: 'depth1', cli: null };
  for (const [flag, val] of flags(argv)) {
    if (flag === '--writes') o.writes = Math.min(MAX_WRITES, Math.max(10, Number(val())));
    else if (flag === '--mode') {
      const m = val();
      if (m !== 'depth1' && m !== 'lone') throw new Error('--mode is depth1 or lone');
      o.mode = m;
    } else if (flag === '--cli') o.cli = val();
    else throw new Error(`unknown option ${flag}`);
  }
  return o;
}

const nowNs = (): number => Number(process.hrtime.bigint());

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const traceDir = mkdtempSync(join(tmpdir(), 'paddock-trace-'));
  process.env.PADDOCK_TRACE = traceDir;
  const peers = await ensemblePeers(3);
  const ports = await Promise.all(peers.map(() => freePort()));
  const procs: ServerProc[] = await Promise.all(
    peers.map((p, i) => startServerProc('paddock', { port: ports[i], ensemble: { myid: p.id, peers }, startTimeoutMs: 60_000, ...(process.env.TRACE_LOG_LEVEL ? { logLevel: process.env.TRACE_LOG_LEVEL as 'debug' } : {}), ...(o.cli ? { paddockCli: o.cli } : {}) })),
  );
  let sent: Sent[] = [];
  let leader = -1;
  try {
    for (let i = 0; i < procs.length; i++) if ((await fourLetterWord(ports[i]!, 'srvr')).includes('Mode: leader')) leader = i;
    const clients = await Promise.all(ports.map((port) => BenchClient.connect({ port })));
    const path = `/trace-${process.pid}`;
    await clients[0]!.call(encodeRequest({ type: OpCode.create, path, data: Buffer.alloc(0), acl: OPEN_ACL, flags: 0, ttl: -1 }));
    const set = encodeRequest({ type: OpCode.setData, path, data: Buffer.alloc(64, 1), version: -1 });
    // Warm up every member's path before the traced writes count.
    for (let i = 0; i < 300; i++) await clients[i % 3]!.call(set);
    const began = Date.now();
    sent = o.mode === 'lone' ? await lone(clients, set, o.writes) : await depth1(clients, set, o.writes);
    process.stderr.write(`${sent.length} writes in ${Date.now() - began} ms\n`);
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    const stopping = Date.now();
    await Promise.all(procs.map((p) => p.dispose()));
    process.stderr.write(`members stopped in ${Date.now() - stopping} ms\n`);
  }
  const stamps = new Map<number, Stamp[]>();
  for (const name of readdirSync(traceDir)) stamps.set(Number(name.split('.')[0]), readStamps(join(traceDir, name)));
  if (!process.env.TRACE_KEEP) rmSync(traceDir, { recursive: true, force: true });
  else process.stderr.write(`stamps kept in ${traceDir}\n`);
  report(o, sent, procs.map((p) => stamps.get(p.pid) ?? []), leader);
}

/** Writes in turn over the members, one at a time. */
async function lone(clients: BenchClient[], set: Buffer, writes: number): Promise<Sent[]> {
  const out: Sent[] = [];
  for (let i = 0; i < writes; i++) {
    const member = i % clients.length;
    out.push(await timed(clients[member]!, member, set));
  }
  return out;
}

/** One session per member, each with one write outstanding. */
async function depth1(clients: BenchClient[], set: Buffer, writes: number): Promise<Sent[]> {
  const out: Sent[] = [];
  const each = Math.ceil(writes / clients.length);
  await Promise.all(
    clients.map(async (c, member) => {
      for (let i = 0; i < each; i++) out.push(await timed(c, member, set));
    }),
  );
  return out;
}

/** The key is the session and the xid the client gives this request. */
function timed(client: BenchClient, member: number, set: Buffer): Promise<Sent> {
  const key = requestKey(client.sessionId, client.nextXid);
  const sentNs = nowNs();
  return new Promise((resolve, reject) => {
    client.send(set, (err) => (err !== 0 ? reject(new Error(`set failed: ${err}`)) : resolve({ member, key, sentNs, repliedNs: nowNs() })));
  });
}

function readStamps(file: string): Stamp[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [ns, point, key] = line.split(' ');
      return { ns: Number(ns), point: point!, key: key! };
    });
}

/** First stamp of each (point, key) on one member. */
function index(stamps: Stamp[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of stamps) {
    const k = `${s.point} ${s.key}`;
    if (!m.has(k)) m.set(k, s.ns);
  }
  return m;
}

/** The sync worker's stamps of the log write a member submitted at `at` (the first one posted after it). */
function workerSteps(idx: Map<string, number>, posts: Stamp[], at: number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (at === undefined) return out;
  // posts are in time order: binary search for the first at or after `at`.
  let lo = 0;
  let hi = posts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (posts[mid]!.ns < at) lo = mid + 1;
    else hi = mid;
  }
  const post = posts[lo];
  if (post === undefined) return out;
  for (const point of ['w.post', 'w.start', 'w.written', 'w.synced', 'w.settled']) {
    const ns = idx.get(`${point} ${post.key}`);
    if (ns !== undefined) out.set(point, ns);
  }
  return out;
}

function report(o: Options, sent: Sent[], members: Stamp[][], leader: number): void {
  const idx = members.map(index);
  const posts = members.map((m) => m.filter((s) => s.point === 'w.post').sort((a, b) => a.ns - b.ns));
  const links = new Map<string, string>();
  for (const s of members[leader] ?? []) {
    if (s.point !== 'l.link') continue;
    const [req, zxid] = s.key.split('>');
    links.set(req!, zxid!);
  }
  const direct: Map<string, number>[] = [];
  const forwarded: Map<string, number>[] = [];
  for (const w of sent) {
    const zxid = links.get(w.key);
    if (zxid === undefined) continue;
    const steps = new Map<string, number>();
    const add = (name: string, ns: number | undefined): void => {
      if (ns !== undefined) steps.set(name, (ns - w.sentNs) / 1000);
    };
    const addLog = (who: string, m: number): void => {
      const submitted = idx[m]!.get(`d.write ${zxid}`);
      add(`${who}: log write submitted (d.write)`, submitted);
      const ws = workerSteps(idx[m]!, posts[m]!, submitted);
      add(`${who}: posted to the sync thread (w.post)`, ws.get('w.post'));
      add(`${who}: sync thread took it (w.start)`, ws.get('w.start'));
      add(`${who}: written (w.written)`, ws.get('w.written'));
      add(`${who}: fdatasync done (w.synced)`, ws.get('w.synced'));
      add(`${who}: reply from the sync thread (w.settled)`, ws.get('w.settled'));
      add(`${who}: log write settled (d.synced)`, idx[m]!.get(`d.synced ${zxid}`));
    };
    const own = idx[w.member]!;
    const other = [0, 1, 2].find((m) => m !== leader && m !== w.member)!;
    add('client member: request read (c.in)', own.get(`c.in ${w.key}`));
    if (w.member !== leader) {
      add('follower: REQUEST written (f.out.request)', own.get(`f.out.request ${w.key}`));
      add('leader: REQUEST read (l.in.request)', idx[leader]!.get(`l.in.request ${w.key}`));
    }
    add('leader: proposed (l.propose)', idx[leader]!.get(`l.propose ${zxid}`));
    addLog('leader', leader);
    for (const x of ['l.x.drain', 'l.x.logappends', 'l.x.carryout', 'l.x.uncork']) add(`leader: ${x}`, idx[leader]!.get(`${x} ${zxid}`));
    add('leader: PROPOSAL written (l.out.proposal)', idx[leader]!.get(`l.out.proposal ${zxid}`));
    add('leader: own ACK counted (l.logged)', idx[leader]!.get(`l.logged ${zxid}`));
    const followers = w.member === leader ? [0, 1, 2].filter((m) => m !== leader) : [w.member, other];
    followers.forEach((f, n) => {
      const who = w.member === leader ? `follower ${n + 1}` : n === 0 ? 'client follower' : 'other follower';
      add(`${who}: PROPOSAL read (f.in.proposal)`, idx[f]!.get(`f.in.proposal ${zxid}`));
      addLog(who, f);
      add(`${who}: ACK written (f.out.ack)`, idx[f]!.get(`f.out.ack ${zxid}`));
    });
    add('leader: first ACK read (l.in.ack)', idx[leader]!.get(`l.in.ack ${zxid}`));
    add('leader: committed (l.commit)', idx[leader]!.get(`l.commit ${zxid}`));
    add('leader: COMMIT written (l.out.commit)', idx[leader]!.get(`l.out.commit ${zxid}`));
    if (w.member !== leader) {
      add('client follower: COMMIT read (f.in.commit)', own.get(`f.in.commit ${zxid}`));
      add('client follower: applied (f.apply)', own.get(`f.apply ${zxid}`));
    }
    add('client member: reply encoded (c.reply)', own.get(`c.reply ${w.key}`));
    add('client member: reply written (c.write)', own.get(`c.write ${w.key}`));
    add('client: reply read', w.repliedNs);
    const logged = steps.get('leader: own ACK counted (l.logged)');
    const firstAck = steps.get('leader: first ACK read (l.in.ack)');
    // The commit waits for the leader's own ACK and one follower's (3 members).
    if (logged !== undefined && firstAck !== undefined) steps.set('=commit due: max(l.logged, first l.in.ack)', Math.max(logged, firstAck));
    (w.member === leader ? direct : forwarded).push(steps);
  }
  const total = (ws: Sent[]): string => {
    const v = ws.map((w) => (w.repliedNs - w.sentNs) / 1000);
    return `p50 ${pct(v, 0.5).toFixed(0)} µs, p90 ${pct(v, 0.9).toFixed(0)} µs, p99 ${pct(v, 0.99).toFixed(0)} µs (${v.length})`;
  };
  process.stdout.write(`client round trip: all ${total(sent)}; to the leader ${total(sent.filter((w) => w.member === leader))}; forwarded ${total(sent.filter((w) => w.member !== leader))}\n`);
  if (leader < 0 || links.size === 0) throw new Error(`no leader found (${leader}) or no link stamps (${links.size}); stamps per member: ${members.map((m) => m.length).join(', ')}`);
  process.stdout.write(`mode ${o.mode}, ${sent.length} writes. Per step: median µs after the client sent the request (p90), and the median of each write's time from the step listed before it\n`);
  for (const [title, writes] of [['to the leader', direct], ['forwarded by a follower', forwarded]] as const) {
    process.stdout.write(`\n${title} (${writes.length} writes)\n`);
    const names = new Set<string>();
    for (const w of writes) for (const k of w.keys()) names.add(k);
    const lines = [...names].map((name) => {
      const v = writes.flatMap((w) => (w.has(name) ? [w.get(name)!] : []));
      return { name, p50: pct(v, 0.5), p90: pct(v, 0.9), n: v.length };
    });
    lines.sort((a, b) => a.p50 - b.p50);
    let prev: string | null = null;
    for (const l of lines) {
      const from = prev;
      const gaps = from === null ? [] : writes.flatMap((w) => (w.has(l.name) && w.has(from) ? [w.get(l.name)! - w.get(from)!] : []));
      const gap = from === null ? '' : `+${pct(gaps, 0.5).toFixed(0)}`;
      process.stdout.write(`  ${l.p50.toFixed(0).padStart(6)} (${l.p90.toFixed(0).padStart(6)}) ${gap.padStart(6)}  ${l.name}${l.n < writes.length ? ` [${l.n}]` : ''}\n`);
      prev = l.name;
    }
    process.stdout.write('  gaps, median µs (p90):\n');
    for (const [from, to] of GAPS) {
      const pairs = writes.flatMap((w) => {
        const a = [...w.entries()].filter(([k]) => k.includes(from));
        const b = [...w.entries()].filter(([k]) => k.includes(to));
        // A member's own steps pair with that member's; a hop pairs with any member's step.
        const sameMember = from.startsWith('(') || to.startsWith('(');
        const who = (k: string): string => k.split(':')[0]!;
        return a.flatMap(([ka, va]) => b.filter(([kb]) => !sameMember || who(kb) === who(ka)).map(([, vb]) => vb - va));
      });
      if (pairs.length > 0) process.stdout.write(`    ${pct(pairs, 0.5).toFixed(0).padStart(6)} (${pct(pairs, 0.9).toFixed(0).padStart(6)})  ${from} -> ${to}\n`);
    }
  }
}

/** Step pairs whose gap per write is shown: the hops and each member's own steps. */
const GAPS: [string, string][] = [
  ['c.in', 'f.out.request'],
  ['f.out.request', 'l.in.request'],
  ['l.in.request', 'l.propose'],
  ['l.propose', 'l.out.proposal'],
  ['l.out.proposal', 'f.in.proposal'],
  ['f.in.proposal', '(d.write)'],
  ['(w.post)', '(w.start)'],
  ['(w.written)', '(w.synced)'],
  ['(w.synced)', '(w.settled)'],
  ['(d.synced)', '(f.out.ack)'],
  ['f.out.ack', 'l.in.ack'],
  ['commit due', 'l.out.commit'],
  ['l.out.commit', 'f.in.commit'],
  ['f.in.commit', 'c.write'],
  ['l.commit', 'c.write'],
  ['c.write', 'client: reply read'],
];

function pct(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
