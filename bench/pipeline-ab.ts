#!/usr/bin/env node
/**
 * The request pipelines of several builds in one process, without sockets: the same closed-loop
 * requests (32 sessions x 16 outstanding, 100 znodes of 100 B under /bench) through each build's
 * pipeline with an in-memory commit log, rounds interleaved, CPU per operation. On a shared
 * machine the minimum over rounds moves far less than anything measured across processes, so
 * this is the tool for a difference of tens of nanoseconds per request.
 *
 *   node dist/bench/pipeline-ab.js [--workload get|set|mixed] [--rounds 9] <checkout> <checkout> ...
 *
 * Each checkout holds a built dist/: RequestPipeline (src/pipeline) or, before it existed,
 * ZkServer (src/server).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SESSIONS = 32;
const DEPTH = 16;
const OPS_PER_ROUND = 200_000;
const KEYS = 100;
const DATA = Buffer.alloc(100, 7);
const OPEN_ACL = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

/** What this tool calls on either build's pipeline. */
interface AnyPipeline {
  connect(link: FakeLink, req: object): void;
  request(link: FakeLink, xid: number, type: number, req: object): void;
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

async function importFrom(root: string, rel: string): Promise<Record<string, any>> {
  return (await import(pathToFileURL(resolve(root, 'dist/src', rel)).href)) as Record<string, any>;
}

/** A factory of fresh pipelines of the build at `root`. */
async function loadBuild(root: string): Promise<() => AnyPipeline> {
  if (existsSync(resolve(root, 'dist/src/pipeline/pipeline.js'))) {
    const { RequestPipeline } = await importFrom(root, 'pipeline/pipeline.js');
    const { MemoryCommitLog } = await importFrom(root, 'pipeline/commitlog.js');
    const { defaultConfig } = await importFrom(root, 'config/config.js');
    const { newSessionSecret } = await importFrom(root, 'sessions/secret.js');
    const random = (n: number): Buffer => randomBytes(n);
    return () => new RequestPipeline(defaultConfig(), { now: Date.now, log: new MemoryCommitLog(), logger: silent, randomBytes: random, sessionSecret: newSessionSecret(random, []) });
  }
  // Between the two, the config and the session secret moved in several steps.
  const { ZkServer } = await importFrom(root, 'server/zkserver.js');
  const { MemoryCommitLog } = await importFrom(root, 'server/commitlog.js');
  const { defaultConfig } = await importFrom(root, existsSync(resolve(root, 'dist/src/config/config.js')) ? 'config/config.js' : 'server/config.js');
  const random = (n: number): Buffer => randomBytes(n);
  const secret = existsSync(resolve(root, 'dist/src/sessions/secret.js')) ? (await importFrom(root, 'sessions/secret.js')).newSessionSecret(random, []) : undefined;
  return () => new ZkServer(defaultConfig(), { now: Date.now, log: new MemoryCommitLog(), logger: silent, randomBytes: random, sessionSecret: secret });
}

/** Counts replies and wakes the round once all of them are in. */
class Replies {
  count = 0;
  private want = 0;
  private wake: (() => void) | null = null;

  expect(n: number): Promise<void> {
    this.count = 0;
    this.want = n;
    return new Promise((r) => (this.wake = r));
  }

  one(): void {
    if (++this.count < this.want || this.wake === null) return;
    const wake = this.wake;
    this.wake = null;
    wake();
  }
}

class FakeLink {
  readonly remoteAddress = '127.0.0.1';
  readonly authIds = [{ scheme: 'ip', id: '127.0.0.1' }];
  sessionId = 0n;
  private connected!: () => void;
  readonly ready = new Promise<void>((r) => (this.connected = r));

  constructor(
    readonly id: number,
    private readonly replies: Replies,
  ) {}

  sendReply(): void {
    this.replies.one();
  }
  sendEvent(): void {}
  sendConnectResponse(): void {
    this.connected();
  }
  backedUp(): boolean {
    return false;
  }
  close(): void {}
}

function request(workload: string, i: number): { type: number } & Record<string, unknown> {
  const path = `/bench/k${i % KEYS}`;
  const write = workload === 'set' || (workload === 'mixed' && i % 10 === 0);
  return write ? { type: 5, path, data: DATA, version: -1 } : { type: 4, path, watch: false };
}

interface Build {
  root: string;
  server: AnyPipeline;
  links: FakeLink[];
  replies: Replies;
  nsPerOp: number[];
}

async function setUp(root: string): Promise<Build> {
  const server = (await loadBuild(root))();
  const replies = new Replies();
  const links: FakeLink[] = [];
  for (let s = 0; s < SESSIONS; s++) {
    const link = new FakeLink(s + 1, replies);
    links.push(link);
    server.connect(link, { protocolVersion: 0, lastZxidSeen: 0, timeOut: 30_000, sessionId: 0n, passwd: Buffer.alloc(16), readOnly: false });
    await link.ready;
  }
  const created = replies.expect(KEYS + 1);
  server.request(links[0]!, 1, 1, { type: 1, path: '/bench', data: null, acl: OPEN_ACL, flags: 0, ttl: -1 });
  for (let k = 0; k < KEYS; k++) server.request(links[0]!, k + 2, 1, { type: 1, path: `/bench/k${k}`, data: DATA, acl: OPEN_ACL, flags: 0, ttl: -1 });
  await created;
  return { root, server, links, replies, nsPerOp: [] };
}

/** `n` requests, topped up each turn so every session keeps DEPTH outstanding. */
async function runRound(b: Build, workload: string, n: number): Promise<void> {
  const done = b.replies.expect(n);
  let sent = 0;
  const pump = (): void => {
    const target = Math.min(n, b.replies.count + SESSIONS * DEPTH);
    for (; sent < target; sent++) {
      const req = request(workload, sent);
      b.server.request(b.links[sent % SESSIONS]!, sent + 1, req.type, req);
    }
    if (sent < n) setImmediate(pump);
  };
  pump();
  await done;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let workload = 'get';
  let rounds = 9;
  const roots: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--workload') workload = args[++i] ?? '';
    else if (args[i] === '--rounds') rounds = Number(args[++i]);
    else roots.push(args[i]!);
  }
  if (!['get', 'set', 'mixed'].includes(workload) || roots.length === 0 || !(rounds > 0)) {
    throw new Error('usage: node dist/bench/pipeline-ab.js [--workload get|set|mixed] [--rounds n] <checkout> ...');
  }
  const builds: Build[] = [];
  for (const root of roots) builds.push(await setUp(resolve(root)));
  for (const b of builds) await runRound(b, workload, 50_000); // warms the JIT
  for (let r = 0; r < rounds; r++) {
    for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
      const before = process.cpuUsage();
      await runRound(b, workload, OPS_PER_ROUND);
      const used = process.cpuUsage(before);
      b.nsPerOp.push(((used.user + used.system) * 1000) / OPS_PER_ROUND);
    }
  }
  for (const b of builds) {
    process.stdout.write(`${workload} ${b.root}: min ${Math.min(...b.nsPerOp).toFixed(0)} ns/op, median ${median(b.nsPerOp).toFixed(0)} ns/op (${rounds} rounds)\n`);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`pipeline-ab: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
