/**
 * The load generator: runs as its own process (forked by run.ts) so it never shares an event
 * loop with a server. It talks to the parent over IPC:
 *   parent -> {cmd:'setup', spec}      child -> {ev:'ready', info}      (sessions connected, znodes made)
 *   parent -> {cmd:'go'}               child -> {ev:'window-start'} ... {ev:'window-end'} ... {ev:'done', result}
 *   parent -> {cmd:'exit'}
 * The parent reads server CPU time and RSS at window-start and window-end.
 *
 * Every loop is bounded in time (durationMs, plus a drain deadline) and in requests outstanding.
 */
import { performance } from 'node:perf_hooks';
import { Err, EventType, OpCode } from '../src/jute/constants.js';
import { BenchClient, encodeRequest } from './client.js';
import { Histogram, type HistogramData } from './hist.js';
import { ensurePaths, pipelined, value, workloadByName, xorshift, type Slot, OPEN_ACL } from './workloads.js';

export type Mode = 'closed' | 'open';

export interface LoadSpec {
  port: number;
  /** ops only: sessions spread over these servers in turn (an ensemble's), instead of `port`. */
  ports?: number[];
  kind: 'ops' | 'fanout' | 'idle' | 'fill';
  workload: string;
  mode: Mode;
  sessions: number;
  /** Closed loop: requests outstanding per session. */
  depth: number;
  /** Open loop: total requests per second, sent on schedule whatever the replies do. */
  rate: number;
  warmupMs: number;
  durationMs: number;
  seed: number;
  /** fanout: rounds of one setData to `sessions` watchers. */
  rounds?: number;
  /** idle: ping interval per session. */
  pingIntervalMs?: number;
  sessionTimeoutMs?: number;
  /** fill: how many znodes, and bytes each. */
  fillCount?: number;
  fillBytes?: number;
}

export interface LoadResult {
  ops: number;
  errors: number;
  errorCodes: Record<string, number>;
  windowMs: number;
  hist: HistogramData;
  /** Open loop: requests not sent because too many were outstanding. */
  skipped: number;
  extra: Record<string, number | string>;
}

type ToChild = { cmd: 'setup'; spec: LoadSpec } | { cmd: 'go' } | { cmd: 'exit' };
export type FromChild =
  | { ev: 'ready'; info: Record<string, number | string> }
  | { ev: 'window-start' }
  | { ev: 'window-end' }
  | { ev: 'done'; result: LoadResult }
  | { ev: 'error'; message: string };

const send = (m: FromChild): void => void process.send!(m);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function connectMany(port: number | readonly number[], n: number, timeoutMs = 30_000, concurrency = 100): Promise<BenchClient[]> {
  const ports = typeof port === 'number' ? [port] : port;
  const clients: BenchClient[] = new Array(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      // Spread over several loopback source addresses so 10,000+ sessions never run out of ports.
      for (let attempt = 1; ; attempt++) {
        try {
          clients[i] = await BenchClient.connect({ port: ports[i % ports.length] as number, timeoutMs, localAddress: `127.0.0.${1 + (i % 8)}` });
          break;
        } catch (e) {
          if (attempt >= 3) throw e;
          await sleep(200);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return clients;
}

async function closeAll(clients: BenchClient[], concurrency = 200): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < clients.length) await clients[next++]!.close(5000);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker));
}

class Counter {
  ops = 0;
  errors = 0;
  codes: Record<string, number> = {};
  hist = new Histogram();
  reply(good: boolean, err: number, latencyMs: number): void {
    this.ops++;
    this.hist.recordMs(latencyMs);
    if (!good) {
      this.errors++;
      this.codes[err] = (this.codes[err] ?? 0) + 1;
    }
  }
  /** The counts as a leg's result. */
  result(windowMs: number, skipped: number, extra: LoadResult['extra']): LoadResult {
    return { ops: this.ops, errors: this.errors, errorCodes: this.codes, windowMs, hist: this.hist.toJSON(), skipped, extra };
  }
}

function waitGo(): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: ToChild): void => {
      if (m.cmd === 'go') {
        process.off('message', on);
        resolve();
      }
    };
    process.on('message', on);
  });
}

// ---- ops: closed or open loop over a workload -------------------------------------------------

async function runOps(spec: LoadSpec): Promise<LoadResult> {
  const wl = workloadByName(spec.workload);
  const clients = await connectMany(spec.ports ?? spec.port, spec.sessions);
  await wl.setup(clients[0]!);
  send({ ev: 'ready', info: { sessions: clients.length } });
  await waitGo();

  const rnd = xorshift(spec.seed);
  let counter: Counter | null = null; // null during warm-up
  let stopping = false;
  let inflight = 0;
  let skipped = 0;

  const issue = (c: BenchClient, slot: Slot, sentAt: number, again: boolean): void => {
    inflight++;
    c.send(
      wl.next(slot, rnd),
      (err, frame, at) => {
        inflight--;
        const good = wl.onReply(slot, err, frame);
        if (counter) counter.reply(good, err, performance.now() - at);
        if (again && !stopping && !c.closed) issue(c, slot, performance.now(), true);
      },
      sentAt,
    );
  };

  let openTimer: NodeJS.Timeout | null = null;
  if (spec.mode === 'closed') {
    for (const c of clients) for (let d = 0; d < spec.depth; d++) issue(c, { pendingPath: null }, performance.now(), true);
  } else {
    const slots = clients.map(() => ({ pendingPath: null }) as Slot);
    const maxOutstanding = Math.max(100, spec.sessions * 64);
    const t0 = performance.now();
    const perMs = spec.rate / 1000;
    let sent = 0;
    let rr = 0;
    openTimer = setInterval(() => {
      const due = Math.floor((performance.now() - t0) * perMs);
      while (sent < due && !stopping) {
        const at = t0 + sent / perMs;
        sent++;
        if (inflight >= maxOutstanding) {
          if (counter) skipped++;
          continue;
        }
        const i = rr++ % clients.length;
        issue(clients[i]!, slots[i]!, at, false);
      }
    }, 1);
  }

  await sleep(spec.warmupMs);
  counter = new Counter();
  const started = performance.now();
  send({ ev: 'window-start' });
  await sleep(spec.durationMs);
  const windowMs = performance.now() - started;
  const measured = counter;
  counter = null;
  stopping = true;
  send({ ev: 'window-end' });
  if (openTimer) clearInterval(openTimer);
  // Drain what is still in flight (bounded), then end the sessions.
  const drainDeadline = performance.now() + 15_000;
  while (inflight > 0 && performance.now() < drainDeadline) await sleep(5);
  await closeAll(clients);
  return measured.result(windowMs, skipped, {});
}

// ---- watch fan-out ---------------------------------------------------------------------------

async function runFanout(spec: LoadSpec): Promise<LoadResult> {
  const path = '/bench/fanout';
  const writer = (await connectMany(spec.port, 1))[0]!;
  await ensurePaths(writer, ['/bench', path], value(100));
  const watchers = await connectMany(spec.port, spec.sessions);
  const getWatch = encodeRequest({ type: OpCode.getData, path, watch: true });
  const setTmpl = encodeRequest({ type: OpCode.setData, path, data: value(100, 7), version: -1 });
  let roundStart = 0;
  let received = 0;
  let roundDone: (() => void) | null = null;
  const eventHist = new Histogram();
  for (const w of watchers) {
    w.onWatch = (type, _state, _path, at) => {
      if (type !== EventType.NodeDataChanged) return;
      eventHist.recordMs(at - roundStart);
      if (++received === watchers.length) roundDone?.();
    };
  }
  const register = async (): Promise<void> => {
    const errs = await Promise.all(watchers.map((w) => w.call(getWatch)));
    const bad = errs.filter((e) => e.err !== Err.OK).length;
    if (bad) throw new Error(`${bad} watch registrations failed`);
  };
  await register();
  send({ ev: 'ready', info: { watchers: watchers.length } });
  await waitGo();
  send({ ev: 'window-start' });
  const fanHist = new Histogram();
  const started = performance.now();
  const rounds = spec.rounds ?? 10;
  let completed = 0;
  let timeouts = 0;
  let totalFanMs = 0;
  for (let r = 0; r < rounds && performance.now() - started < spec.durationMs; r++) {
    received = 0;
    const allSeen = new Promise<boolean>((resolve) => {
      roundDone = () => resolve(true);
      setTimeout(() => resolve(false), 30_000);
    });
    roundStart = performance.now();
    writer.send(setTmpl, () => undefined, roundStart);
    const ok = await allSeen;
    const fanMs = performance.now() - roundStart;
    roundDone = null;
    if (!ok) {
      timeouts++;
      break;
    }
    fanHist.recordMs(fanMs);
    totalFanMs += fanMs;
    completed++;
    await register();
  }
  const windowMs = performance.now() - started;
  send({ ev: 'window-end' });
  await closeAll([...watchers, writer]);
  return {
    ops: completed,
    errors: timeouts,
    errorCodes: timeouts ? { timeout: timeouts } : {},
    windowMs,
    hist: fanHist.toJSON(),
    skipped: 0,
    extra: {
      watchers: watchers.length,
      eventsPerSec: completed > 0 ? (completed * watchers.length) / (totalFanMs / 1000) : 0,
      eventP50Ms: eventHist.percentileMs(0.5),
      eventP99Ms: eventHist.percentileMs(0.99),
    },
  };
}

// ---- idle sessions ---------------------------------------------------------------------------

async function runIdle(spec: LoadSpec): Promise<LoadResult> {
  const t0 = performance.now();
  const clients = await connectMany(spec.port, spec.sessions, spec.sessionTimeoutMs ?? 30_000, 200);
  const connectMs = performance.now() - t0;
  send({ ev: 'ready', info: { sessions: clients.length, connectMs, connectsPerSec: clients.length / (connectMs / 1000) } });
  await waitGo();
  const interval = spec.pingIntervalMs ?? Math.floor(clients[0]!.negotiatedTimeoutMs / 3);
  const counter = new Counter();
  let measuring = true;
  const rnd = xorshift(spec.seed);
  const timers: NodeJS.Timeout[] = [];
  send({ ev: 'window-start' });
  const started = performance.now();
  for (const c of clients) {
    const rtt = (ms: number): void => {
      if (measuring) counter.reply(true, 0, ms);
    };
    // Stagger the first ping so pings spread evenly over the interval, as real clients' do.
    timers.push(
      setTimeout(() => {
        c.ping(rtt);
        timers.push(setInterval(() => c.ping(rtt), interval));
      }, rnd() * interval),
    );
  }
  await sleep(spec.durationMs);
  measuring = false;
  const windowMs = performance.now() - started;
  send({ ev: 'window-end' });
  for (const t of timers) clearTimeout(t);
  const closed = clients.filter((c) => c.closed).length;
  const tc = performance.now();
  await closeAll(clients);
  return {
    ops: counter.ops,
    errors: closed,
    errorCodes: closed ? { 'sessions lost': closed } : {},
    windowMs,
    hist: counter.hist.toJSON(),
    skipped: 0,
    extra: { sessions: clients.length, pingIntervalMs: interval, connectMs, closeMs: performance.now() - tc },
  };
}

// ---- fill: many small znodes (memory and restart) ----------------------------------------------

/** Znode i of a fill, in a two-level tree of 1,000 children per parent. */
export function fillPath(i: number): string {
  return `/fill/p${Math.floor(i / 1000)}/n${i % 1000}`;
}

async function runFill(spec: LoadSpec): Promise<LoadResult> {
  const count = spec.fillCount ?? 500_000;
  const data = value(spec.fillBytes ?? 100);
  const clients = await connectMany(spec.port, spec.sessions);
  const parents = Math.ceil(count / 1000);
  await ensurePaths(clients[0]!, ['/fill', ...Array.from({ length: parents }, (_, j) => `/fill/p${j}`)], null);
  send({ ev: 'ready', info: { parents } });
  await waitGo();
  send({ ev: 'window-start' });
  const counter = new Counter();
  const started = performance.now();
  let next = 0;
  const deadline = started + spec.durationMs;
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          let inflight = 0;
          const pump = (): void => {
            while (inflight < spec.depth && next < count && performance.now() < deadline && !c.closed) {
              const frame = encodeRequest({ type: OpCode.create, path: fillPath(next++), data, acl: OPEN_ACL, flags: 0, ttl: -1 });
              inflight++;
              c.send(frame, (err, _f, at) => {
                inflight--;
                counter.reply(err === Err.OK || err === Err.NODEEXISTS, err, performance.now() - at);
                pump();
              });
            }
            if (inflight === 0) resolve();
          };
          pump();
        }),
    ),
  );
  const windowMs = performance.now() - started;
  send({ ev: 'window-end' });
  // Keep the sessions' ends out of the measured memory: close them now.
  await closeAll(clients);
  // The last znode, for the restart check.
  return counter.result(windowMs, 0, { created: next, lastPath: fillPath(next - 1) });
}

// ---- entry -----------------------------------------------------------------------------------

async function main(spec: LoadSpec): Promise<void> {
  let result: LoadResult;
  switch (spec.kind) {
    case 'ops':
      result = await runOps(spec);
      break;
    case 'fanout':
      result = await runFanout(spec);
      break;
    case 'idle':
      result = await runIdle(spec);
      break;
    case 'fill':
      result = await runFill(spec);
      break;
  }
  send({ ev: 'done', result });
}

if (process.send) {
  process.on('message', (m: ToChild) => {
    if (m.cmd === 'setup') {
      main(m.spec).catch((e: Error) => send({ ev: 'error', message: e.stack ?? e.message }));
    } else if (m.cmd === 'exit') {
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}
