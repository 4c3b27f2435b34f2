/**
 * The ZooKeeper C client (zookeeper-bin's cli_mt, libzookeeper-mt) is driven on stdin against
 * Apache ZooKeeper and against the target; normalised transcripts must match.
 *
 * Determinism: cli_mt issues most commands asynchronously and prints results from its completion
 * thread, in reply order (watch notifications arrive before the reply of the write that fired
 * them). After each command the driver sends `get /__paddock_marker_N`, whose completion
 * ("<path>: rc = -101", then an empty Stat) is printed only after every earlier completion, and
 * waits for it. (Synchronous commands such as `exists` do not work as markers: their results are
 * signalled outside the completion thread and can overtake earlier asynchronous output.) cli_mt writes results to stderr; stdout (block-buffered) only holds the session
 * id at exit and is ignored.
 */
import { test } from 'node:test';
import { CLI_MT, cliMtMissing, skipUnless } from '../support/clients.js';
import { zookeeperMissing } from '../support/zookeeper.js';
import { compareWithZooKeeper, isSpecialOwner, Placeholders } from './transcript.js';
import { Interactive } from './proc.js';

type SessionName = 'A' | 'B';

class CliMt {
  private readonly proc: Interactive;
  private offset = 0;
  private markers = 0;

  constructor(readonly name: SessionName, connectString: string) {
    // stdout is ignored: cli_mt prints results on stderr, so no merging is needed.
    this.proc = new Interactive(`cli_mt ${name}`, '/bin/sh', ['-c', `exec "$0" -h "$1" 2>&1 >/dev/null`, CLI_MT, connectString]);
  }

  async connected(): Promise<void> {
    const line = /Got a new session id: 0x[0-9a-f]+\n/;
    await this.proc.waitFor((o) => line.test(o), 'the session to connect', 20_000);
    const m = line.exec(this.proc.output)!;
    this.offset = m.index + m[0].length;
  }

  async run(cmd: string): Promise<string> {
    const marker = `/__paddock_marker_${this.name}${++this.markers}`;
    const done = `${marker}: rc = -101\n\nStat:\nnull\n`;
    const start = this.offset;
    this.proc.write(`${cmd}\nget ${marker}\n`);
    await this.proc.waitFor((o) => o.indexOf(done, start) >= 0, `the output of '${cmd}'`);
    const end = this.proc.output.indexOf(done, start);
    this.offset = end + done.length;
    return this.proc.output.slice(start, end);
  }

  /** Waits for `n` watch notifications delivered to this idle session; returns the raw output. */
  async events(n: number): Promise<string> {
    const start = this.offset;
    // Complete lines only: cli_mt may write one line in several pieces.
    const count = (o: string): number => o.slice(start).split('\n').slice(0, -1).filter((l) => l.startsWith('Watcher ')).length;
    await this.proc.waitFor((o) => count(o) >= n, `${n} watch notification(s)`);
    this.offset = this.proc.output.length;
    return this.proc.output.slice(start);
  }

  quit(): Promise<void> {
    return this.proc.quit(10_000);
  }

  kill(): void {
    this.proc.kill();
  }
}

function normalize(raw: string, ph: Placeholders, sortChildren: boolean): string[] {
  const lines = raw.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  for (const l of lines) {
    if (/^time = \d+ msec$/.test(l)) continue;
    let m = /^(\t[cm]zxid)=([0-9a-f]+)$/.exec(l);
    if (m) {
      out.push(`${m[1]}=${ph.get('zxid', `0x${m[2]}`)}`);
      continue;
    }
    m = /^(\t[cm]time) ?= ?.*$/.exec(l);
    if (m) {
      out.push(`${m[1]}=<time>`);
      continue;
    }
    m = /^(\tephemeralOwner = )([0-9a-f]+)$/.exec(l);
    if (m) {
      const hex = `0x${m[2]}`;
      out.push(`${m[1]}${isSpecialOwner(hex) ? hex : ph.get('session', hex)}`);
      continue;
    }
    out.push(l);
  }
  if (!sortChildren) return out;
  // ls/ls2 print one child per tab-indented line in the server's (unspecified) order: sort each run.
  const sorted: string[] = [];
  let run: string[] = [];
  const flush = (): void => {
    sorted.push(...run.sort());
    run = [];
  };
  for (const l of out) {
    if (/^\t[^\t=]+$/.test(l) && !l.includes(' = ')) run.push(l);
    else {
      flush();
      sorted.push(l);
    }
  }
  flush();
  return sorted;
}

type Action =
  | { s: SessionName; cmd: string }
  | { start: SessionName }
  | { quit: SessionName }
  /** Watch notifications an idle session receives because of another session. */
  | { events: SessionName; count: number };

const SCRIPT: Action[] = [
  { start: 'A' },
  { s: 'A', cmd: 'create /cc' },
  { s: 'A', cmd: 'create /cc' },
  { s: 'A', cmd: 'create /cc/missing/kid' },
  { s: 'A', cmd: 'create +e /cc/eph' },
  { s: 'A', cmd: 'create /cc/eph/kid' },
  { s: 'A', cmd: 'create +s /cc/seq-' },
  { s: 'A', cmd: 'create +s /cc/seq-' },
  { s: 'A', cmd: 'create +es /cc/eseq-' },
  { s: 'A', cmd: 'create2 /cc/c2' },
  { s: 'A', cmd: 'create2 +e /cc/c2e' },
  { s: 'A', cmd: 'create +c /cc/cont' },
  { s: 'A', cmd: 'create /cc/cont/kid' },
  { s: 'A', cmd: 'create +t=600000 /cc/ttl' },
  { s: 'A', cmd: 'create2 +st=600000 /cc/ttlseq-' },
  { s: 'A', cmd: 'create2 +t=0 /cc/ttl0' },
  { s: 'A', cmd: 'create noslash' },
  { s: 'A', cmd: 'set /cc first' },
  { s: 'A', cmd: 'set /cc second' },
  { s: 'A', cmd: 'set /cc/missing x' },
  { s: 'A', cmd: 'get /cc' },
  { s: 'A', cmd: 'get /cc/eph' },
  { s: 'A', cmd: 'get /cc/missing' },
  { s: 'A', cmd: 'aget /cc' },
  { s: 'A', cmd: 'ls /cc' },
  { s: 'A', cmd: 'ls2 /cc' },
  { s: 'A', cmd: 'ls /cc/missing' },
  { s: 'A', cmd: 'ls2 /cc/missing' },
  { s: 'A', cmd: 'exists /cc' },
  { s: 'A', cmd: 'exists /cc/eph' },
  { s: 'A', cmd: 'exists /cc/ttl' },
  { s: 'A', cmd: 'exists /cc/cont' },
  { s: 'A', cmd: 'exists /cc/missing' },
  { s: 'A', cmd: 'sync /cc' },
  { s: 'A', cmd: 'delete /cc' },
  { s: 'A', cmd: 'delete /cc/missing' },
  { s: 'A', cmd: 'delete /cc/seq-0000000002' },
  { s: 'A', cmd: 'exists /cc/seq-0000000002' },
  // watches: get/ls set watches in cli_mt; wexists sets one on a missing node
  { s: 'A', cmd: 'wexists /cc/later' },
  { s: 'A', cmd: 'create /cc/later' },
  { s: 'A', cmd: 'get /cc/later' },
  { s: 'A', cmd: 'set /cc/later changed' },
  { s: 'A', cmd: 'ls /cc/later' },
  { s: 'A', cmd: 'create /cc/later/kid' },
  { s: 'A', cmd: 'get /cc/later/kid' },
  { s: 'A', cmd: 'delete /cc/later/kid' },
  { s: 'A', cmd: 'ls /cc/later' },
  { s: 'A', cmd: 'delete /cc/later' },
  // a second session's ephemerals, and watches fired by it
  { start: 'B' },
  { s: 'B', cmd: 'create +e /cc/eph_b' },
  { s: 'B', cmd: 'exists /cc/eph_b' },
  { s: 'B', cmd: 'exists /cc/eph' },
  { s: 'A', cmd: 'get /cc/eph_b' },
  { s: 'B', cmd: 'addauth digest bob:pw' },
  { s: 'B', cmd: 'get /cc' },
  { quit: 'B' },
  // A's get left a data watch on B's ephemeral: its deletion at B's close notifies A
  { events: 'A', count: 1 },
  { s: 'A', cmd: 'exists /cc/eph_b' },
  { s: 'A', cmd: 'ls /cc' },
  { s: 'A', cmd: 'delete /cc/cont/kid' },
  { s: 'A', cmd: 'get /cc/cont' },
  { quit: 'A' },
];

async function runScript(connectString: string): Promise<string[]> {
  const ph = new Placeholders();
  const sessions = new Map<SessionName, CliMt>();
  const transcript: string[] = [];
  try {
    for (const action of SCRIPT) {
      if ('start' in action) {
        const cli = new CliMt(action.start, connectString);
        sessions.set(action.start, cli);
        await cli.connected();
        transcript.push(`${action.start}: connected`);
      } else if ('quit' in action) {
        await sessions.get(action.quit)!.quit();
        sessions.delete(action.quit);
        transcript.push(`${action.quit}: quit`);
      } else if ('events' in action) {
        transcript.push(`${action.events}: awaiting ${action.count} notification(s)`);
        const raw = await sessions.get(action.events)!.events(action.count);
        for (const l of normalize(raw, ph, false)) transcript.push(`   ${l}`);
      } else {
        transcript.push(`${action.s}> ${action.cmd}`);
        const raw = await sessions.get(action.s)!.run(action.cmd);
        const sortChildren = /^a?ls2? /.test(action.cmd);
        for (const l of normalize(raw, ph, sortChildren)) transcript.push(`   ${l}`);
      }
    }
  } finally {
    for (const cli of sessions.values()) cli.kill();
  }
  return transcript;
}

test('C client cli_mt session matches Apache ZooKeeper', { skip: skipUnless(zookeeperMissing(), cliMtMissing()), timeout: 120_000 }, async () => {
  await compareWithZooKeeper('cli_mt', (connectString) => runScript(connectString));
});
