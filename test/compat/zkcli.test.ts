/**
 * zkCli (Apache ZooKeeper's ZooKeeperMain, Debian `zookeeper`) runs one scripted session, fed on
 * stdin, against Apache ZooKeeper 3.8 and against the target; the normalised transcripts must
 * match line by line.
 *
 * How the driver stays deterministic without sleeping: every command is followed by
 * `printwatches` (a local command printing "printwatches is on"), whose output marks the end of
 * the command's output. Watches are set by session A and fired by commands of session B while A
 * is idle; the driver then waits for the expected number of WatchedEvent lines on A. Watch events
 * a session causes itself (removewatches) are waited for in the same way and listed after the
 * command's output.
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { ZK_CLASSPATH } from '../support/zookeeper.js';
import { skipUnless, zkCliMissing } from '../support/clients.js';
import { compareWithZooKeeper, isSpecialOwner, Placeholders } from './transcript.js';
import { Interactive } from './proc.js';

type SessionName = 'A' | 'B' | 'C';

const MARKER = 'printwatches is on';

/** Complete "WatchedEvent ..." lines in `text` (a line still being written does not count). */
function countEvents(text: string): number {
  return text.split('\n').slice(0, -1).filter((l) => l.startsWith('WatchedEvent ')).length;
}

/** One zkCli process, one ZooKeeper session. */
class ZkCli {
  private readonly proc: Interactive;
  private offset = 0;

  constructor(readonly name: SessionName, connectString: string) {
    this.proc = new Interactive(
      `zkCli ${name}`,
      '/usr/bin/java',
      ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx128m', '-cp', ZK_CLASSPATH, 'org.apache.zookeeper.ZooKeeperMain', '-server', connectString],
      { mergeStderr: true },
    );
  }

  async connected(): Promise<void> {
    const connectedLine = 'WatchedEvent state:SyncConnected type:None path:null';
    await this.proc.waitFor((o) => o.includes(connectedLine), 'the session to connect', 30_000);
    const at = this.proc.output.indexOf(connectedLine) + connectedLine.length + 1;
    await this.proc.waitFor((o) => o.length >= at, 'the end of the connect event');
    this.offset = at;
  }

  /** Runs one command and returns its raw output, waiting also for `selfEvents` watch events it causes. */
  async run(cmd: string, selfEvents = 0): Promise<string> {
    const start = this.offset;
    this.proc.write(`${cmd}\n${'printwatches'}\n`);
    await this.proc.waitFor((o) => {
      const rest = o.slice(start);
      return rest.includes(`${MARKER}\n`) && countEvents(rest) >= selfEvents;
    }, `the output of '${cmd}'`);
    const raw = this.proc.output.slice(start);
    this.offset = this.proc.output.length;
    return raw.replace(`${MARKER}\n`, '');
  }

  /** Waits for `n` watch events delivered to this idle session and returns the raw output. */
  async events(n: number, cause: string): Promise<string> {
    const start = this.offset;
    await this.proc.waitFor((o) => countEvents(o.slice(start)) >= n, `${n} watch event(s) after '${cause}'`);
    const raw = this.proc.output.slice(start);
    this.offset = this.proc.output.length;
    return raw;
  }

  quit(): Promise<void> {
    return this.proc.quit(15_000);
  }

  kill(): void {
    this.proc.kill();
  }
}

/** Splits raw zkCli output into command output lines and watch events; drops JVM log noise. */
function splitOutput(raw: string): { lines: string[]; events: string[] } {
  const all = raw.split('\n');
  if (all[all.length - 1] === '') all.pop();
  const lines: string[] = [];
  const events: string[] = [];
  for (let k = 0; k < all.length; k++) {
    const l = all[k]!;
    if (l.startsWith('SLF4J:') || /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \[/.test(l) || /^log4j:/.test(l)) continue;
    // ZooKeeperMain prints "\nWATCHER::" and "\nWatchedEvent ..." for each event.
    if (l === '' && (all[k + 1] === 'WATCHER::' || all[k + 1]?.startsWith('WatchedEvent '))) continue;
    if (l === 'WATCHER::') continue;
    if (l.startsWith('WatchedEvent ')) events.push(l);
    else lines.push(l);
  }
  return { lines, events };
}

function normalizeLine(line: string, ph: Placeholders): string {
  let m = /^(cZxid|mZxid|pZxid) = (0x[0-9a-fA-F]+)$/.exec(line);
  if (m) return `${m[1]} = ${ph.get('zxid', m[2]!.toLowerCase())}`;
  m = /^(ctime|mtime) = .+$/.exec(line);
  if (m) return `${m[1]} = <time>`;
  m = /^ephemeralOwner = (0x[0-9a-fA-F]+)$/.exec(line);
  if (m) return `ephemeralOwner = ${isSpecialOwner(m[1]!) ? m[1]!.toLowerCase() : ph.get('session', m[1]!.toLowerCase())}`;
  return line;
}

interface Step {
  /** Session running the command. */
  s: SessionName;
  cmd: string;
  /** Watch events this command fires on other (idle) sessions, or on itself. */
  events?: Partial<Record<SessionName, number>>;
}

type Action = Step | { quit: SessionName } | { start: SessionName };

const DIGEST_ALICE = createHash('sha1').update('alice:pw').digest('base64');
const DIGEST_BOB = createHash('sha1').update('bob:pw').digest('base64');

/** The scripted session. Paths live under /cli so the script is independent of server-internal nodes. */
const SCRIPT: Action[] = [
  { start: 'A' },
  { start: 'B' },
  // create with every mode, and its errors
  { s: 'A', cmd: 'create /cli root' },
  { s: 'A', cmd: 'create /cli again' },
  { s: 'A', cmd: 'create /cli/plain' },
  { s: 'A', cmd: 'get -s /cli/plain' },
  { s: 'A', cmd: 'create -e /cli/eph ephemeral-data' },
  { s: 'A', cmd: 'create -s /cli/seq- one' },
  { s: 'A', cmd: 'create -s /cli/seq- two' },
  { s: 'A', cmd: 'create -s -e /cli/eseq- three' },
  { s: 'A', cmd: 'create -c /cli/container' },
  { s: 'A', cmd: 'create /cli/container/child x' },
  { s: 'A', cmd: 'create -t 600000 /cli/ttl ttl-data' },
  { s: 'A', cmd: 'create -s -t 600000 /cli/ttlseq- y' },
  { s: 'A', cmd: 'create -t 0 /cli/ttl0' },
  { s: 'A', cmd: 'create -e -t 1000 /cli/ttleph' },
  { s: 'A', cmd: 'create -c -t 1000 /cli/ttlcontainer' },
  { s: 'A', cmd: 'create /cli/eph/child' },
  { s: 'A', cmd: 'create /cli/missing/child' },
  { s: 'A', cmd: 'create nopath' },
  { s: 'A', cmd: 'create /cli/bad/' },
  // ls, get, stat
  { s: 'A', cmd: 'ls /cli' },
  { s: 'A', cmd: 'ls -s /cli' },
  { s: 'A', cmd: 'ls -R /cli' },
  { s: 'A', cmd: 'ls /cli/missing' },
  { s: 'A', cmd: 'get /cli' },
  { s: 'A', cmd: 'get -s /cli' },
  { s: 'A', cmd: 'get /cli/missing' },
  { s: 'A', cmd: 'stat /cli/eph' },
  { s: 'A', cmd: 'stat /cli/ttl' },
  { s: 'A', cmd: 'stat /cli/container' },
  { s: 'A', cmd: 'stat /cli/missing' },
  // set -v
  { s: 'A', cmd: 'set /cli v1' },
  { s: 'A', cmd: 'set -v 5 /cli v2' },
  { s: 'A', cmd: 'set -v 1 /cli v2' },
  { s: 'A', cmd: 'set -s -v 2 /cli v3' },
  { s: 'A', cmd: 'set -s /cli/missing v' },
  { s: 'A', cmd: 'get -s /cli' },
  // ephemerals of two sessions
  { s: 'B', cmd: 'stat /cli/eph' },
  { s: 'B', cmd: 'create -e /cli/eph_b b' },
  { s: 'B', cmd: 'get -s /cli/eph_b' },
  { s: 'B', cmd: 'getEphemerals /cli' },
  { s: 'A', cmd: 'getEphemerals /cli' },
  { s: 'A', cmd: 'getEphemerals /cli/eph' },
  { s: 'A', cmd: 'getEphemerals' },
  { s: 'A', cmd: 'getAllChildrenNumber /cli' },
  { s: 'A', cmd: 'getAllChildrenNumber /cli/container' },
  { s: 'A', cmd: 'getAllChildrenNumber /cli/missing' },
  // delete -v, deleteall
  { s: 'A', cmd: 'delete -v 3 /cli/seq-0000000002' },
  { s: 'A', cmd: 'delete -v 0 /cli/seq-0000000002' },
  { s: 'A', cmd: 'delete /cli/seq-0000000002' },
  { s: 'A', cmd: 'delete -v 0 /cli/seq-0000000003' },
  { s: 'A', cmd: 'create /cli/withacl data world:anyone:r' },
  { s: 'A', cmd: 'getAcl /cli/withacl' },
  { s: 'A', cmd: 'set /cli/withacl denied' },
  { s: 'A', cmd: 'get -w /cli/missing' },
  { s: 'A', cmd: 'create -s /cli/seq- after-deletes' },
  { s: 'A', cmd: 'delete /cli' },
  { s: 'A', cmd: 'delete /cli/missing' },
  { s: 'A', cmd: 'create /cli/tree' },
  { s: 'A', cmd: 'create /cli/tree/a' },
  { s: 'A', cmd: 'create /cli/tree/a/b' },
  { s: 'A', cmd: 'create /cli/tree/c' },
  { s: 'A', cmd: 'getAllChildrenNumber /cli/tree' },
  { s: 'A', cmd: 'deleteall /cli/tree' },
  { s: 'A', cmd: 'deleteall /cli/container' },
  { s: 'A', cmd: 'deleteall /cli/missing' },
  { s: 'A', cmd: 'ls /cli' },
  { s: 'A', cmd: 'stat /cli' },
  // one-shot watches, fired by session B
  { s: 'A', cmd: 'ls -w /cli' },
  { s: 'B', cmd: 'create /cli/w data', events: { A: 1 } },
  { s: 'B', cmd: 'create /cli/w2 data' },
  { s: 'A', cmd: 'get -w /cli/w' },
  { s: 'B', cmd: 'set /cli/w changed', events: { A: 1 } },
  { s: 'B', cmd: 'set /cli/w changed-again' },
  { s: 'A', cmd: 'stat -w /cli/later' },
  { s: 'B', cmd: 'create /cli/later', events: { A: 1 } },
  { s: 'A', cmd: 'get -w /cli/later' },
  { s: 'A', cmd: 'ls -s -w /cli/later' },
  { s: 'B', cmd: 'delete /cli/later', events: { A: 1 } },
  { s: 'A', cmd: 'ls -w /cli/w' },
  { s: 'A', cmd: 'get -w /cli/w' },
  { s: 'B', cmd: 'create /cli/w/kid', events: { A: 1 } },
  { s: 'B', cmd: 'delete /cli/w/kid' },
  // persistent and recursive watches
  { s: 'A', cmd: 'addWatch -m PERSISTENT_RECURSIVE /cli/r' },
  { s: 'B', cmd: 'create /cli/r x', events: { A: 1 } },
  { s: 'B', cmd: 'set /cli/r y', events: { A: 1 } },
  { s: 'B', cmd: 'create /cli/r/deep z', events: { A: 1 } },
  { s: 'B', cmd: 'create /cli/r/deep/er z', events: { A: 1 } },
  { s: 'B', cmd: 'set /cli/r/deep/er zz', events: { A: 1 } },
  { s: 'B', cmd: 'delete /cli/r/deep/er', events: { A: 1 } },
  { s: 'A', cmd: 'addWatch -m PERSISTENT /cli/p' },
  { s: 'B', cmd: 'create /cli/p 1', events: { A: 1 } },
  { s: 'B', cmd: 'create /cli/p/kid 1', events: { A: 1 } },
  { s: 'B', cmd: 'set /cli/p 2', events: { A: 1 } },
  { s: 'B', cmd: 'set /cli/p 3', events: { A: 1 } },
  { s: 'B', cmd: 'set /cli/p/kid 2' },
  { s: 'A', cmd: 'addWatch /cli/d' },
  { s: 'B', cmd: 'create /cli/d 1', events: { A: 1 } },
  { s: 'A', cmd: 'addWatch -m BOGUS /cli/d' },
  { s: 'A', cmd: 'removewatches /cli/p', events: { A: 1 } },
  { s: 'A', cmd: 'removewatches /cli/p' },
  { s: 'B', cmd: 'set /cli/p 4' },
  { s: 'A', cmd: 'removewatches /cli/r -a', events: { A: 1 } },
  { s: 'B', cmd: 'set /cli/r gone' },
  { s: 'A', cmd: 'ls -w /cli/w' },
  { s: 'A', cmd: 'removewatches /cli/w -c', events: { A: 1 } },
  // the data watch left by 'get -w /cli/w' above (only its child watch fired)
  { s: 'A', cmd: 'removewatches /cli/w -d', events: { A: 1 } },
  { s: 'A', cmd: 'get -w /cli/w2' },
  { s: 'A', cmd: 'removewatches /cli/w2 -d', events: { A: 1 } },
  { s: 'A', cmd: 'removewatches /cli/missing' },
  // ACLs and digest authentication
  { s: 'A', cmd: 'getAcl /cli' },
  { s: 'A', cmd: 'getAcl -s /cli' },
  { s: 'A', cmd: 'getAcl /cli/missing' },
  { s: 'A', cmd: 'create /cli/acl secret' },
  { s: 'A', cmd: `setAcl /cli/acl digest:alice:${DIGEST_ALICE}:cdrwa` },
  { s: 'A', cmd: 'getAcl -s /cli/acl' },
  { s: 'A', cmd: 'get /cli/acl' },
  { s: 'A', cmd: 'set /cli/acl x' },
  { s: 'A', cmd: 'create /cli/acl/kid' },
  { s: 'A', cmd: 'addauth digest alice:pw' },
  { s: 'A', cmd: 'get /cli/acl' },
  { s: 'A', cmd: 'whoami' },
  { s: 'A', cmd: 'setAcl -v 7 /cli/acl world:anyone:r' },
  { s: 'A', cmd: `setAcl -s -v 1 /cli/acl digest:alice:${DIGEST_ALICE}:rwa,digest:bob:${DIGEST_BOB}:r` },
  { s: 'A', cmd: 'getAcl /cli/acl' },
  { s: 'A', cmd: 'create /cli/acl/kid' },
  { s: 'A', cmd: 'create /cli/authed mine' },
  { s: 'A', cmd: 'setAcl /cli/authed auth::cdrwa' },
  { s: 'A', cmd: 'getAcl /cli/authed' },
  { s: 'A', cmd: 'setAcl /cli/missing world:anyone:r' },
  { s: 'A', cmd: 'setAcl /cli/authed nonsense' },
  { s: 'A', cmd: 'setAcl -R /cli/r world:anyone:cdrw' },
  { s: 'A', cmd: 'getAcl /cli/r/deep' },
  { start: 'C' },
  { s: 'C', cmd: 'whoami' },
  { s: 'C', cmd: 'get /cli/acl' },
  { s: 'C', cmd: 'getAcl /cli/acl' },
  { s: 'C', cmd: 'get /cli/authed' },
  { s: 'C', cmd: 'addauth digest bob:wrong' },
  { s: 'C', cmd: 'get /cli/acl' },
  { s: 'C', cmd: 'addauth digest bob:pw' },
  { s: 'C', cmd: 'get /cli/acl' },
  { s: 'C', cmd: 'set /cli/acl by-bob' },
  { s: 'C', cmd: 'whoami' },
  { s: 'C', cmd: 'delete /cli/r' },
  // the server's own nodes
  { s: 'A', cmd: 'ls /zookeeper' },
  { s: 'A', cmd: 'get /zookeeper/config' },
  { s: 'A', cmd: 'getAcl /zookeeper/config' },
  { s: 'A', cmd: 'getAcl /' },
  { s: 'A', cmd: 'delete /zookeeper/config' },
  { s: 'A', cmd: 'create /zookeeper/mine' },
  // redo re-runs a command from zkCli's history (which also holds the driver's markers, so
  // only index 0, A's first command, is stable)
  { s: 'A', cmd: 'redo 0' },
  // sync
  { s: 'A', cmd: 'sync /cli' },
  { s: 'A', cmd: 'sync /cli/missing' },
  // ephemerals vanish with their session
  { s: 'A', cmd: 'ls /cli' },
  { quit: 'B' },
  { s: 'A', cmd: 'ls /cli' },
  { s: 'A', cmd: 'getEphemerals /cli' },
  { s: 'A', cmd: 'stat /cli' },
  { quit: 'C' },
  { quit: 'A' },
];

/** With extended types (TTL) disabled on both servers: what zkCli users see without TTL support. */
const NO_TTL_SCRIPT: Action[] = [
  { start: 'A' },
  { s: 'A', cmd: 'create /nottl root' },
  { s: 'A', cmd: 'create -t 600000 /nottl/ttl data' },
  { s: 'A', cmd: 'create -s -t 600000 /nottl/ttlseq- data' },
  { s: 'A', cmd: 'ls /nottl' },
  { s: 'A', cmd: 'create -c /nottl/container' },
  { s: 'A', cmd: 'stat /nottl' },
  { quit: 'A' },
];

async function runScript(connectString: string, script: Action[] = SCRIPT): Promise<string[]> {
  const ph = new Placeholders();
  const sessions = new Map<SessionName, ZkCli>();
  const transcript: string[] = [];
  const emit = (prefix: string, raw: string): void => {
    const { lines, events } = splitOutput(raw);
    const out = lines.map((l) => normalizeLine(l, ph));
    for (const l of out) transcript.push(`   ${l}`);
    for (const e of events) transcript.push(`   ${prefix}${e}`);
  };
  try {
    for (const action of script) {
      if ('start' in action) {
        const cli = new ZkCli(action.start, connectString);
        sessions.set(action.start, cli);
        await cli.connected();
        transcript.push(`${action.start}: connected`);
        continue;
      }
      if ('quit' in action) {
        await sessions.get(action.quit)!.quit();
        sessions.delete(action.quit);
        transcript.push(`${action.quit}: quit`);
        continue;
      }
      const cli = sessions.get(action.s)!;
      if (process.env.PADDOCK_COMPAT_DEBUG) console.log(`# ${action.s}> ${action.cmd}`);
      transcript.push(`${action.s}> ${action.cmd}`);
      const declared = action.events?.[action.s] ?? 0;
      const raw = await cli.run(action.cmd, declared);
      // An undeclared event of the session's own would land racily before or after the next
      // command's output: fail clearly instead of flakily.
      const printed = splitOutput(raw).events.length;
      if (printed !== declared) {
        throw new Error(`session ${action.s}: '${action.cmd}' was followed by ${printed} watch event(s) where the script declares ${declared}\n${raw}`);
      }
      emit('', raw);
      for (const [other, n] of Object.entries(action.events ?? {}) as Array<[SessionName, number]>) {
        if (other === action.s) continue;
        emit(`(${other}) `, await sessions.get(other)!.events(n, action.cmd));
      }
    }
  } finally {
    for (const cli of sessions.values()) cli.kill();
  }
  return transcript;
}

test('zkCli scripted session matches Apache ZooKeeper', { skip: skipUnless(zkCliMissing()), timeout: 120_000 }, async () => {
  await compareWithZooKeeper('zkCli', (connectString) => runScript(connectString));
});

test('zkCli create -t without TTL support matches Apache ZooKeeper', { skip: skipUnless(zkCliMissing()), timeout: 120_000 }, async () => {
  await compareWithZooKeeper('zkCli without extended types', (connectString) => runScript(connectString, NO_TTL_SCRIPT), {
    zookeeper: { config: { extendedTypesEnabled: 'false' } },
    paddock: { extendedTypesEnabled: false },
  });
});
