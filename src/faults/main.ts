#!/usr/bin/env node
/**
 * `npm run faults -- [options]`: one fault run, or `--selftest`. Exit status: 0 no violation,
 * 1 violation found, 2 usage error, 3 undecided (the linearizability search hit its bounds).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeKinds, kindsOf, zookeeperUnavailable } from './cluster.js';
import { runFaults, WORKLOADS, type ClientKind, type RunOptions, type Workload } from './runner.js';
import { NEMESES, type NemesisName } from './schedule.js';
import { runSelfTests } from './selftest.js';

const USAGE = `Usage: npm run faults -- [options]

  --target zookeeper|paddock|mixed:K,K,...
                               servers to attack (default zookeeper); mixed: one kind per server in
                               id order, zk or paddock, e.g. mixed:zk,zk,paddock (2 ZooKeeper + 1 Paddock)
  --servers N                  ensemble size (default 3 for zookeeper, 1 for paddock, the list's length for mixed)
  --seed N                     seed of the nemesis schedule and the workloads (default: random, printed)
  --duration SECONDS           length of the faulty phase (default 60); 5 s healed phase follows
  --nemeses a,b,...            from ${NEMESES.join(', ')}
                               (default: kill,pause,partitions for an ensemble; kill,pause,disk-full standalone)
  --workloads a,b,...          from ${WORKLOADS.join(', ')} (default all)
  --clients a,b                paddock, kazoo (default both, alternating)
  --client-count N             logical clients, one session each (default 10)
  --fault-seconds MIN,MAX      length of one fault (default 3,8)
  --out DIR                    where history.json, summary.json and report.html go (default faults-out/<seed>)
  --loopback                   run on loopback even as root (no partitions, no disk-full)
  --unsafe-no-fsync            ZooKeeper/Paddock forceSync=no (to show what the checkers catch)
  --unsafe-wipe-on-restart     restarted servers lose their disk (must be reported as lost writes)
  --selftest                   feed the checkers known-bad histories; each must be flagged
`;

function list<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').filter((s) => s !== '');
  for (const i of items) if (!allowed.includes(i as T)) throw new Error(`unknown ${what} '${i}' (expected ${allowed.join(', ')})`);
  return items as T[];
}

function int(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, not '${value}'`);
  return n;
}

export function parseOptions(argv: string[]): RunOptions | 'selftest' | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      servers: { type: 'string' },
      seed: { type: 'string' },
      duration: { type: 'string' },
      nemeses: { type: 'string' },
      workloads: { type: 'string' },
      clients: { type: 'string' },
      'client-count': { type: 'string' },
      'fault-seconds': { type: 'string' },
      out: { type: 'string' },
      loopback: { type: 'boolean' },
      'unsafe-no-fsync': { type: 'boolean' },
      'unsafe-wipe-on-restart': { type: 'boolean' },
      selftest: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (values.selftest) return 'selftest';
  const target = values.target ?? 'zookeeper';
  const mixed = target.startsWith('mixed:');
  const defaultServers = mixed ? kindsOf(target).length : target === 'zookeeper' ? 3 : 1;
  const servers = int(values.servers, defaultServers, '--servers');
  if (servers < 1 || servers > 7) throw new Error('--servers must be 1..7');
  // Checks the target (and that a mixed list has --servers entries); the runner derives the same kinds.
  const kinds = kindsOf(target, servers);
  const seed = int(values.seed, Math.floor(Math.random() * 2 ** 31), '--seed');
  const defaultNemeses: NemesisName[] = servers > 1 ? ['kill', 'pause', 'partition-isolate', 'partition-halves', 'partition-bridge', 'partition-oneway'] : ['kill', 'pause', 'disk-full'];
  const [faultMin, faultMax] = (values['fault-seconds'] ?? '3,8').split(',').map((s) => int(s, 0, '--fault-seconds') * 1000);
  if (faultMin === undefined || faultMax === undefined || faultMin > faultMax) throw new Error('--fault-seconds is MIN,MAX');
  return {
    target: describeKinds(kinds),
    servers,
    seed,
    durationMs: int(values.duration, 60, '--duration') * 1000,
    nemeses: list(values.nemeses, NEMESES, 'nemesis') ?? defaultNemeses,
    workloads: list<Workload>(values.workloads, WORKLOADS, 'workload') ?? [...WORKLOADS],
    clients: list<ClientKind>(values.clients, ['paddock', 'kazoo'], 'client') ?? ['paddock', 'kazoo'],
    clientCount: Math.max(1, int(values['client-count'], 10, '--client-count')),
    outDir: values.out ?? join('faults-out', String(seed)),
    loopback: values.loopback ?? false,
    forceSync: !values['unsafe-no-fsync'],
    wipeOnRestart: values['unsafe-wipe-on-restart'] ?? false,
    opTimeoutMs: 5000,
    sessionTimeoutMs: 6000,
    opDelayMs: 40,
    maxOpsPerClient: 5000,
    faultMs: [faultMin, faultMax],
    gapMs: [2000, 5000],
    log: (line) => process.stdout.write(`faults: ${line}\n`),
  };
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    process.stderr.write(`faults: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed === 'selftest') {
    let failed = 0;
    for (const r of runSelfTests()) {
      if (!r.passed) failed++;
      process.stdout.write(`${r.passed ? 'ok  ' : 'FAIL'} ${r.name}${r.violations.length ? `\n       flagged: ${r.violations[0]}` : ''}\n`);
    }
    process.stdout.write(failed === 0 ? 'selftest: every known-bad history was flagged\n' : `selftest: ${failed} case(s) wrong\n`);
    return failed === 0 ? 0 : 1;
  }
  if (kindsOf(parsed.target, parsed.servers).includes('zookeeper')) {
    const missing = zookeeperUnavailable();
    if (missing) {
      process.stderr.write(`faults: ${missing}\n`);
      return 1;
    }
  }
  parsed.log(`seed ${parsed.seed}: ${parsed.servers} ${parsed.target} server(s), ${parsed.durationMs / 1000} s, nemeses ${parsed.nemeses.join(',')}`);
  const result = await runFaults(parsed);
  const s = result.summary;
  parsed.log(`ops ${s.ops.total} (ok ${s.ops.ok}, fail ${s.ops.fail}, unknown ${s.ops.info}); faults ${s.faults.length}`);
  for (const k of s.linearizability) parsed.log(`linearizability ${k.key}: ${k.result} (${k.ops} ops)${k.detail ? ` ${k.detail}` : ''}`);
  for (const v of s.violations.slice(0, 20)) parsed.log(`VIOLATION [${v.checker}] ${v.message}`);
  if (s.violations.length > 20) parsed.log(`... and ${s.violations.length - 20} more violations in ${join(result.outDir, 'summary.json')}`);
  parsed.log(`result: ${s.result.toUpperCase()}; report ${join(result.outDir, 'report.html')}`);
  return s.result === 'ok' ? 0 : s.result === 'violation' ? 1 : 3;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`faults: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
