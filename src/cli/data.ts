/**
 * `paddock data ...`: read-only inspection and dumping of a data directory, and purge.
 * Bad input (a missing or foreign directory, an unreadable file, a corrupted record) gets one
 * clear line on stderr and a non-zero status.
 */
import * as nodePath from 'node:path';
import { NodeDisk, errorCode, type Disk } from '../io/disk.js';
import { decodeTxn, type TxnBody } from '../jute/txn.js';
import type { ACL } from '../jute/records.js';
import { scanSegment, zxidHex, type SegmentScan } from '../persistence/logformat.js';
import { purge, MIN_RETAIN_COUNT } from '../persistence/purge.js';
import { listSnapshots, verifySnapshot } from '../persistence/snapshots.js';
import { VERSION_DIR } from '../persistence/store.js';
import { acquireDataDirLock } from '../persistence/lock.js';
import { writeSnapshot } from '../persistence/snapshots.js';
import { nonZeroEnd, parseZxidName, LOG_PREFIX } from '../persistence/logformat.js';
import { parseZkSnapshotName, readZkLog, readZkSnapshot, ZkFormatError, type ZkLogStop } from '../persistence/zkformat.js';
import { errName, OpCode, opName } from '../jute/constants.js';
import { listSegments, type SegmentInfo } from '../persistence/txnlog.js';
import { loadNewestValidSnapshot, type LoadedSnapshot } from '../persistence/snapshots.js';
import { replayTxn } from '../sessions/replay.js';
import { hex } from '../lib/hex.js';
import { describeZxidGap, findZxidGaps, gapPlace, zxidGap, type ZxidGap } from '../persistence/zxidgaps.js';

export interface DataCommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  disk: Disk;
}

const USAGE = `Usage: paddock data <subcommand> [arguments]

Subcommands:
  inspect DIR [--log-dir LOGDIR]    List snapshots and log segments: zxid ranges, sizes,
                                    whether every checksum verifies and whether zxids are
                                    contiguous (exit 1 on any damage or missing txns)
  dump DIR [--log-dir LOGDIR] [--tree]
                                    Print every logged transaction, decoded; with --tree then
                                    the current tree: the newest valid snapshot plus the log
                                    after it
  purge DIR [--log-dir LOGDIR] [-n N]
                                    Delete all but the N newest snapshots (default and minimum
                                    ${MIN_RETAIN_COUNT}) and the log segments only they needed
  import-zookeeper ZK_DATA_DIR OUT_DIR [--log-dir ZK_LOG_DIR] [--accept-data-loss]
                                    Convert a stopped Apache ZooKeeper 3.x data directory
                                    (snapshot.* + log.*) into a new Paddock data directory.
                                    A damaged or incomplete log history is refused unless
                                    --accept-data-loss (then what is lost is reported)
  help                              This text

DIR is a dataDir (holding version-2/) or a version-2 directory itself. LOGDIR is the dataLogDir
when it differs from the dataDir.`;

class DataError extends Error {}

/** Thrown by `out` once stdout's reader has gone (`paddock data dump DIR | head`): stop quietly. */
class OutputClosed extends Error {
  constructor(readonly status: number) {
    super('stdout closed');
  }
}

let stdoutWatched = false;

function defaultIo(): DataCommandIo {
  if (!stdoutWatched) {
    stdoutWatched = true;
    // A reader that stops early is not an error; the next `out` sees `errored` and stops the command.
    process.stdout.on('error', (err) => {
      if (errorCode(err) !== 'EPIPE') process.stderr.write(`paddock data: cannot write to stdout: ${err.message}\n`);
    });
  }
  return {
    out: (t) => {
      const broken = process.stdout.errored;
      if (broken || process.stdout.destroyed) throw new OutputClosed(broken && errorCode(broken) !== 'EPIPE' ? 1 : 0);
      process.stdout.write(t);
    },
    err: (t) => void process.stderr.write(t),
    disk: new NodeDisk(),
  };
}

/** Runs `paddock data <args>`; returns the exit status (0 ok, 1 damage or error, 2 usage). */
export async function runDataCommand(args: string[], io: DataCommandIo = defaultIo()): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'inspect':
        return await inspect(parseArgs(rest, ['--log-dir'], []), io);
      case 'dump':
        return await dump(parseArgs(rest, ['--log-dir'], ['--tree']), io);
      case 'purge':
        return await purgeCommand(parseArgs(rest, ['--log-dir', '-n'], []), io);
      case 'import-zookeeper':
        return await importCommand(parseArgs(rest, ['--log-dir'], ['--accept-data-loss'], 2), io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE + '\n');
        return sub === undefined ? 2 : 0;
      default:
        io.err(`paddock data: unknown subcommand '${sub}' (run 'paddock data help')\n`);
        return 2;
    }
  } catch (e) {
    if (e instanceof OutputClosed) return e.status;
    if (e instanceof UsageError) {
      io.err(`paddock data ${sub}: ${e.message} (run 'paddock data help')\n`);
      return 2;
    }
    if (e instanceof DataError) {
      io.err(`paddock data ${sub}: ${e.message}\n`);
      return 1;
    }
    const err = e as Error;
    io.err(`paddock data ${sub}: ${err.message}\n`);
    return 1;
  }
}

class UsageError extends Error {}

interface Parsed {
  positional: string[];
  options: Map<string, string>;
  flags: Set<string>;
}

function parseArgs(args: string[], withValue: string[], flags: string[], positionals = 1): Parsed {
  const out: Parsed = { positional: [], options: new Map(), flags: new Set() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (withValue.includes(a)) {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      out.options.set(a, v);
    } else if (flags.includes(a)) {
      out.flags.add(a);
    } else if (a.startsWith('-') && a !== '-') {
      throw new UsageError(`unknown option ${a}`);
    } else {
      out.positional.push(a);
    }
  }
  if (out.positional.length < positionals) throw new UsageError(out.positional.length === 0 ? 'missing DIR' : 'missing OUT_DIR');
  if (out.positional.length > positionals) throw new UsageError(`unexpected argument ${out.positional[positionals]}`);
  return out;
}

interface Dirs {
  snapDir: string;
  logDir: string;
}

/** A dataDir or a version-2 dir holding our files; explains in one line what is wrong otherwise. */
async function resolveDir(disk: Disk, dir: string, what: string): Promise<string> {
  const st = await disk.stat(dir).catch((e: unknown) => {
    throw new DataError(`${dir}: cannot read (${errorCode(e) ?? (e as Error).message})`);
  });
  if (!st) throw new DataError(`${dir}: no such directory`);
  if (!st.isDirectory) throw new DataError(`${dir}: not a directory (give the ${what}, which holds version-2/)`);
  const v2 = nodePath.join(dir, VERSION_DIR);
  const v2st = await disk.stat(v2);
  if (v2st?.isDirectory) return v2;
  let names: string[];
  try {
    names = await disk.list(dir);
  } catch (e) {
    throw new DataError(`${dir}: cannot list (${errorCode(e) ?? (e as Error).message})`);
  }
  if (names.some((n) => n.startsWith('log.') || n.startsWith('snapshot.'))) return dir;
  throw new DataError(`${dir}: not a Paddock data directory (no version-2/ subdirectory, no snapshot.* or log.* files)`);
}

async function resolveDirs(disk: Disk, p: Parsed): Promise<Dirs> {
  const snapDir = await resolveDir(disk, p.positional[0]!, 'dataDir');
  const logOpt = p.options.get('--log-dir');
  const logDir = logOpt === undefined ? snapDir : await resolveDir(disk, logOpt, 'dataLogDir');
  return { snapDir, logDir };
}

async function readOrExplain(disk: Disk, path: string): Promise<Buffer> {
  try {
    return await disk.readFile(path);
  } catch (e) {
    throw new DataError(`${path}: unreadable (${errorCode(e) ?? (e as Error).message})`);
  }
}

const ZK_LOG_MAGIC = 0x5a4b4c47; // "ZKLG"
const ZK_SNAP_MAGIC = 0x5a4b534e; // "ZKSN"

function foreignHint(buf: Buffer): string {
  if (buf.length >= 4 && (buf.readUInt32BE(0) === ZK_LOG_MAGIC || buf.readUInt32BE(0) === ZK_SNAP_MAGIC)) {
    return ' (this is an Apache ZooKeeper file)';
  }
  return '';
}

interface SegmentReport {
  seg: SegmentInfo;
  path: string;
  scan: SegmentScan;
  raw: Buffer;
}

/** Scans every segment in order, chaining zxids, read-only. */
async function scanAll(disk: Disk, logDir: string): Promise<SegmentReport[]> {
  const out: SegmentReport[] = [];
  let prev = -1;
  for (const seg of await listSegments(disk, logDir)) {
    const path = nodePath.join(logDir, seg.name);
    const raw = await readOrExplain(disk, path);
    const scan = scanSegment(raw, Math.max(prev, seg.firstZxid - 1));
    if (scan.records.length > 0) prev = scan.records[scan.records.length - 1]!.zxid;
    out.push({ seg, path, scan, raw });
  }
  return out;
}

/** Damage followed by valid records (here or in a later segment) stops a server from starting. */
function isMiddleDamage(reports: SegmentReport[], i: number): boolean {
  const d = reports[i]!.scan.damage;
  if (!d) return false;
  if (d.validRecordAfter !== null) return true;
  return reports.slice(i + 1).some((r) => r.scan.records.length > 0 || r.scan.damage?.validRecordAfter != null);
}

function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

interface HistoryGaps {
  /** After the snapshot a start replays from: the server refuses to start over these. */
  needed: ZxidGap[];
  /** Before that snapshot, which holds their effect: not needed to recover. */
  covered: ZxidGap[];
}

/**
 * Holes in the zxids of the log, as recovery sees them from `snapshot` (the newest valid one).
 * A hole that starts at the damage of a segment is that damage, already reported, not a gap.
 */
function historyGaps(reports: SegmentReport[], snapshot: { zxid: number } | null): HistoryGaps {
  const zxids = reports.flatMap((r) => r.scan.records.map((rec) => rec.zxid));
  const damagedEnds = new Set(reports.filter((r) => r.scan.damage && r.scan.records.length > 0).map((r) => r.scan.records[r.scan.records.length - 1]!.zxid));
  const real = (g: ZxidGap): boolean => !damagedEnds.has(g.after);
  if (snapshot === null) return { needed: findZxidGaps(null, zxids).filter(real), covered: [] };
  return {
    needed: findZxidGaps(snapshot.zxid, zxids.filter((z) => z > snapshot.zxid)).filter(real),
    covered: findZxidGaps(null, zxids.filter((z) => z <= snapshot.zxid)).filter(real),
  };
}

/** "zxids 0xd-0xf (3 txns) missing between log.a and log.10 in DIR", with `verb` for "missing". */
function gapLine(gap: ZxidGap, reports: SegmentReport[], snapshot: { name: string; zxid: number } | null, logDir: string, verb = 'missing'): string {
  return [describeZxidGap(gap), verb, gapPlace(gap, reports.map((r) => r.seg), snapshot, logDir)].filter(Boolean).join(' ');
}

async function inspect(p: Parsed, io: DataCommandIo): Promise<number> {
  const { snapDir, logDir } = await resolveDirs(io.disk, p);
  let problems = 0;
  io.out(`snapshots in ${snapDir}:\n`);
  const snaps = await listSnapshots(io.disk, snapDir);
  if (snaps.length === 0) io.out('  (none)\n');
  let newest: { name: string; zxid: number } | null = null;
  for (const s of snaps) {
    const path = nodePath.join(snapDir, s.name);
    const buf = await readOrExplain(io.disk, path);
    const v = verifySnapshot(buf);
    if (!('error' in v) && v.zxid === s.zxid) newest = { name: s.name, zxid: s.zxid };
    if ('error' in v) {
      problems++;
      io.out(`  ${s.name.padEnd(24)} zxid ${hex(s.zxid).padEnd(14)} ${String(buf.length).padStart(12)} bytes  INVALID at byte offset ${v.offset}: ${v.error}${foreignHint(buf)}\n`);
    } else {
      io.out(`  ${s.name.padEnd(24)} zxid ${hex(s.zxid).padEnd(14)} ${String(buf.length).padStart(12)} bytes  ok (checksum verified)\n`);
    }
  }
  io.out(`txn log segments in ${logDir}:\n`);
  const reports = await scanAll(io.disk, logDir);
  if (reports.length === 0) io.out('  (none)\n');
  reports.forEach((r, i) => {
    const { scan } = r;
    const n = scan.records.length;
    const range = n > 0 ? `zxids ${hex(scan.records[0]!.zxid)}-${hex(scan.records[n - 1]!.zxid)}` : 'no records';
    let status = 'ok (checksums verified)';
    if (scan.damage) {
      problems++;
      const d = scan.damage;
      status = isMiddleDamage(reports, i)
        ? `CORRUPT at byte offset ${d.offset}: ${d.reason}; valid records follow, so the server refuses to start${foreignHint(r.raw)}`
        : `torn tail at byte offset ${d.offset}: ${d.reason}; ${d.damagedBytes} bytes will be truncated at the next start${foreignHint(r.raw)}`;
    }
    io.out(`  ${r.seg.name.padEnd(24)} ${`${range} (${plural(n, 'txn')})`.padEnd(40)} ${scan.validEnd} of ${scan.fileBytes} bytes used  ${status}\n`);
  });
  const gaps = historyGaps(reports, newest);
  const from = newest ? `${newest.name} (zxid ${hex(newest.zxid)})` : 'the first txn';
  const last = reports.flatMap((r) => r.scan.records).pop();
  if (gaps.needed.length === 0) io.out(`txn history: contiguous from ${from}${last ? ` to zxid ${hex(last.zxid)}` : ''}\n`);
  else io.out(`txn history: HOLES after ${from}; the server refuses to start without these txns (or, to accept their loss, paddock server --accept-data-loss):\n`);
  for (const g of gaps.needed) io.out(`  MISSING ${gapLine(g, reports, newest, logDir, '')}\n`);
  for (const g of gaps.covered) io.out(`  note: ${gapLine(g, reports, newest, logDir)}; ${newest!.name} covers them, not needed to recover\n`);
  const summary = [problems > 0 ? plural(problems, 'damaged file') : '', gaps.needed.length > 0 ? plural(gaps.needed.length, 'gap') + ' in the txn history' : ''];
  io.out(summary.some(Boolean) ? `${summary.filter(Boolean).join(', ')}\n` : 'all checksums verified\n');
  return problems === 0 && gaps.needed.length === 0 ? 0 : 1;
}

function formatData(data: Buffer | null): string {
  if (data === null) return 'null';
  const shown = data.subarray(0, 64);
  const text = shown.toString('utf8');
  const printable = /^[\x20-\x7e]*$/.test(text);
  const more = data.length > shown.length ? `...(${data.length} bytes)` : '';
  return printable ? JSON.stringify(text) + more : `0x${shown.toString('hex')}${more}`;
}

function formatAcl(acl: ACL[]): string {
  const perms = (p: number): string => ['r', 'w', 'c', 'd', 'a'].filter((_, i) => (p & (1 << i)) !== 0).join('');
  // Perms in parentheses: ids hold ':', '=' and '/' (digest hashes, ip ranges), so no other separator is clear.
  return '[' + acl.map((a) => `${a.id.scheme}:${a.id.id} (${perms(a.perms) || 'none'})`).join(', ') + ']';
}

function formatBody(body: TxnBody): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === 'type') continue;
    if (key === 'txns') {
      parts.push(`[${(value as TxnBody[]).map((t) => `${opName(t.type)} ${formatBody(t)}`).join('; ')}]`);
    } else if (key === 'data') parts.push(`data=${formatData(value as Buffer | null)}`);
    else if (key === 'acl') parts.push(`acl=${formatAcl(value as ACL[])}`);
    else if (key === 'path') parts.push(String(value));
    else if (key === 'err') parts.push(`err=${errName(value as number)}`);
    else parts.push(`${key}=${Array.isArray(value) ? JSON.stringify(value) : String(value)}`);
  }
  return parts.join(' ');
}

async function dump(p: Parsed, io: DataCommandIo): Promise<number> {
  const { snapDir, logDir } = await resolveDirs(io.disk, p);
  let status = 0;
  const reports = await scanAll(io.disk, logDir);
  for (let i = 0; i < reports.length; i++) {
    const r = reports[i]!;
    io.out(`# ${r.path}\n`);
    for (const rec of r.scan.records) {
      let line: string;
      try {
        const txn = decodeTxn(rec.bytes, 0x7fffffff);
        const h = txn.header;
        line = `${hex(rec.zxid)} ${new Date(h.time).toISOString()} session ${hex(h.sessionId)} cxid ${h.cxid} ${opName(h.type)} ${formatBody(txn.body)}`;
      } catch (e) {
        io.err(`${r.path}:${rec.offset}: record ${hex(rec.zxid)} has a valid checksum but does not decode as a txn: ${(e as Error).message}\n`);
        status = 1;
        continue;
      }
      io.out(line + '\n');
    }
    const d = r.scan.damage;
    if (d) {
      const kind = isMiddleDamage(reports, i) ? 'corrupted record' : 'torn tail';
      io.err(`${r.path}:${d.offset}: ${kind}: ${d.reason}${foreignHint(r.raw)}\n`);
      status = 1;
    }
  }
  const loaded = await loadNewestValidSnapshot(io.disk, snapDir);
  for (const w of loaded.warnings) io.err(`${w}\n`);
  const snapshot = loaded.snapshot && { name: nodePath.basename(loaded.snapshot.path), zxid: loaded.snapshot.zxid };
  for (const g of historyGaps(reports, snapshot).needed) {
    io.err(`${gapLine(g, reports, snapshot, logDir)}\n`);
    status = 1;
  }
  if (p.flags.has('--tree')) status = Math.max(status, await dumpTree(loaded.snapshot, snapDir, reports, io));
  return status;
}

/** The tree a server would start with: the newest valid snapshot plus every readable txn after it. */
async function dumpTree(found: LoadedSnapshot | null, snapDir: string, reports: SegmentReport[], io: DataCommandIo): Promise<number> {
  if (found === null) {
    io.err(`${snapDir}: no valid snapshot to show the tree from\n`);
    return 1;
  }
  // Loaded lazily: the data tools work even in a build without the tree.
  const { deserializeSnapshot } = await import('../tree/snapshot.js');
  let snap;
  try {
    snap = deserializeSnapshot(found.data);
  } catch (e) {
    io.err(`${found.path}: checksum ok but the tree does not decode: ${(e as Error).message}\n`);
    return 1;
  }
  let applied = 0;
  for (const rec of reports.flatMap((r) => r.scan.records)) {
    if (rec.zxid <= found.zxid) continue;
    let txn;
    try {
      txn = decodeTxn(rec.bytes, 0x7fffffff);
    } catch {
      continue; // reported with the txns above
    }
    replayTxn(snap.tree, snap.sessions, txn);
    applied++;
  }
  const asOf = applied === 0 ? found.zxid : snap.tree.lastProcessedZxid;
  io.out(
    `# tree as of zxid ${hex(asOf)}: ${nodePath.basename(found.path)} (zxid ${hex(found.zxid)}) plus ${plural(applied, 'txn')} from the log; ` +
      `${plural(snap.tree.size, 'znode')}, ${plural(snap.sessions.size, 'session')}\n`,
  );
  for (const [id, timeout] of [...snap.sessions].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    io.out(`session ${hex(id)} timeout ${timeout}\n`);
  }
  const stack = ['/'];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const node = snap.tree.getNode(p)!;
    const st = snap.tree.statOf(node);
    const owner = node.ephemeralOwner === 0n ? '' : ` owner=${hex(node.ephemeralOwner)}`;
    io.out(
      `${p} data=${formatData(node.data)} acl=${formatAcl(node.acl)} czxid=${hex(st.czxid)} mzxid=${hex(st.mzxid)} pzxid=${hex(st.pzxid)} version=${st.version} cversion=${st.cversion} aversion=${st.aversion}${owner}\n`,
    );
    const kids = snap.tree.childrenOf(p).sort().reverse();
    for (const k of kids) stack.push(p === '/' ? `/${k}` : `${p}/${k}`);
  }
  return 0;
}

async function purgeCommand(p: Parsed, io: DataCommandIo): Promise<number> {
  const nText = p.options.get('-n') ?? String(MIN_RETAIN_COUNT);
  const n = Number(nText);
  if (!Number.isInteger(n) || n < MIN_RETAIN_COUNT) throw new UsageError(`-n must be an integer >= ${MIN_RETAIN_COUNT}, got '${nText}'`);
  const { snapDir, logDir } = await resolveDirs(io.disk, p);
  const r = await purge(io.disk, { snapDir, logDir, retainCount: n });
  for (const w of r.warnings) io.err(`warning: ${w}\n`);
  for (const f of r.removed) io.out(`removed ${f}\n`);
  io.out(`kept ${plural(r.keptSnapshots.length, 'snapshot')} and ${plural(r.keptLogs.length, 'log segment')}\n`);
  return 0;
}

export interface ImportResult {
  /** Zxid of the Paddock snapshot written: the last ZooKeeper txn applied. */
  zxid: number;
  /** The zxid up to which the imported history is complete: `zxid` unless losses were accepted. */
  completeThrough: number;
  /** What was lost, one line each (empty unless acceptDataLoss). */
  lost: string[];
  snapshotPath: string;
  znodes: number;
  sessions: number;
  /** Txns replayed from the ZooKeeper log over its snapshot. */
  replayed: number;
  warnings: string[];
}

/** A directory's version-2 subdirectory if it has one, else the directory itself. */
async function zkVersionDir(disk: Disk, dir: string): Promise<string> {
  const st = await disk.stat(dir);
  if (!st) throw new DataError(`${dir}: no such directory`);
  if (!st.isDirectory) throw new DataError(`${dir}: not a directory`);
  const v2 = nodePath.join(dir, VERSION_DIR);
  return (await disk.stat(v2))?.isDirectory ? v2 : dir;
}

/**
 * The continuity of the ZooKeeper history being replayed: every txn must follow the one before
 * (or the snapshot). Damage and holes are refused (DataError naming the file, the offset and the
 * zxid reached) unless losses are accepted; then they are recorded and replay goes on.
 */
class ZkHistory {
  readonly lost: string[] = [];
  /** The last zxid before the first loss, or null while nothing is lost. */
  completeThrough: number | null = null;
  /** A torn txn at the end of a log that is not the last: fine if the history goes on from there. */
  private tornEnd: string | null = null;
  /** Set by a loss until the next txn: the hole before that txn is the same loss. */
  private inLoss = false;

  constructor(
    public lastZxid: number,
    private readonly acceptDataLoss: boolean,
    private readonly warnings: string[],
  ) {}

  lose(what: string): void {
    if (!this.acceptDataLoss) {
      throw new DataError(
        `${what}. The history is complete only up to zxid ${hex(this.lastZxid)}; refusing to import a damaged history ` +
          `(--accept-data-loss imports what can be read and reports what is lost)`,
      );
    }
    this.completeThrough ??= this.lastZxid;
    this.lost.push(what);
    this.inLoss = true;
  }

  /** The next txn to apply, read from `path`. */
  reach(zxid: number, path: string): void {
    const gap = zxidGap(this.lastZxid, zxid);
    if (gap && this.inLoss) {
      this.lost[this.lost.length - 1] += `; ${describeZxidGap(gap)} lost with it`;
    } else if (gap) {
      const torn = this.tornEnd === null ? '' : ` (after the partial write at ${this.tornEnd})`;
      this.lose(`${describeZxidGap(gap)} missing before ${path}: a log is missing or truncated${torn}`);
    } else if (this.tornEnd !== null) {
      // ZooKeeper restarted after the torn write and logged that zxid again: nothing is lost.
      this.warnings.push(`${this.tornEnd}: partial txn ignored; the next log goes on from zxid ${hex(zxid)}`);
    }
    this.tornEnd = null;
    this.inLoss = false;
    this.lastZxid = zxid;
  }

  /** A log created just before ZooKeeper stopped, without a complete header: like a torn txn. */
  headerless(path: string, lastLog: boolean): void {
    if (lastLog) this.warnings.push(`${path}: last log without a complete header ignored (created just before ZooKeeper stopped)`);
    else this.tornEnd ??= `${path} (no complete header)`;
  }

  /** The history ended: a torn txn at the end of the last log with txns was its end. */
  finish(): void {
    if (this.tornEnd !== null) this.warnings.push(`${this.tornEnd}: partial last txn ignored (a torn write, as ZooKeeper treats it)`);
    this.tornEnd = null;
  }

  /** Reading `path` stopped early; only a torn write with nothing valid after it may end a log. */
  stopped(path: string, stop: ZkLogStop, lastLog: boolean): void {
    const at = `${path} at byte offset ${stop.offset}`;
    if (!stop.torn || stop.validRecordAfter !== null) {
      const after = stop.validRecordAfter === null ? '' : `, valid txns follow at byte offset ${stop.validRecordAfter}`;
      this.lose(`${at}: ${stop.reason} after zxid ${hex(this.lastZxid)}${after}`);
    } else if (lastLog) {
      this.warnings.push(`${at}: partial last txn ignored (a torn write, as ZooKeeper treats it)`);
    } else {
      this.tornEnd = at;
    }
  }
}

export interface ImportOptions {
  /** Import what can be read of a damaged or incomplete history, reporting what is lost. */
  acceptDataLoss?: boolean;
}

/**
 * Converts a stopped Apache ZooKeeper 3.x data directory: its newest valid snapshot plus the log
 * after it become one Paddock snapshot in `outDir` (which must hold no Paddock data yet). A
 * damaged or incomplete log history is refused unless `acceptDataLoss`.
 */
export async function importZooKeeper(
  disk: Disk,
  zkDataDir: string,
  outDir: string,
  zkLogDir = zkDataDir,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const { DataTree } = await import('../tree/datatree.js');
  const { serializeSnapshot } = await import('../tree/snapshot.js');
  const { ZNode, ownData } = await import('../tree/znode.js');
  const { quotaPathOf, LIMIT_NODE } = await import('../tree/quota.js');
  const warnings: string[] = [];
  const snapDir = await zkVersionDir(disk, zkDataDir);
  const logDir = await zkVersionDir(disk, zkLogDir);
  const snaps = (await disk.list(snapDir))
    .map((name) => ({ name, parsed: parseZkSnapshotName(name) }))
    .filter((s): s is { name: string; parsed: NonNullable<ReturnType<typeof parseZkSnapshotName>> } => s.parsed !== null)
    .sort((a, b) => b.parsed.zxid - a.parsed.zxid);
  if (snaps.length === 0) throw new DataError(`${snapDir}: no ZooKeeper snapshot.* files (not a ZooKeeper data directory?)`);
  let loaded: { zxid: number; snap: ReturnType<typeof readZkSnapshot>; path: string } | null = null;
  for (const s of snaps) {
    const path = nodePath.join(snapDir, s.name);
    if (s.parsed.compression === 'snappy') {
      warnings.push(`skipped ${path}: snappy-compressed snapshots are not supported`);
      continue;
    }
    try {
      loaded = { zxid: s.parsed.zxid, snap: readZkSnapshot(await readOrExplain(disk, path), s.parsed.compression === 'gz'), path };
      break;
    } catch (e) {
      if (!(e instanceof ZkFormatError)) throw e;
      warnings.push(`skipped invalid ZooKeeper snapshot ${path}: ${e.message}`);
    }
  }
  if (!loaded) throw new DataError(`${snapDir}: no valid ZooKeeper snapshot (${warnings.join('; ')})`);

  const tree = new DataTree();
  tree.clear();
  for (const n of loaded.snap.nodes) {
    const st = n.stat;
    const node = new ZNode(ownData(n.data), tree.internAcl(n.acl), st.czxid, st.mzxid, st.ctime, st.mtime, st.version, st.cversion, st.aversion, st.ephemeralOwner, st.pzxid);
    try {
      tree.insert(n.path, node);
    } catch (e) {
      throw new DataError(`${loaded.path}: node ${n.path} cannot be placed in the tree (${(e as Error).message})`);
    }
    if (nodePath.posix.basename(n.path) === LIMIT_NODE) {
      const q = quotaPathOf(nodePath.posix.dirname(n.path));
      if (q !== null) tree.addQuotaPath(q);
    }
  }
  const sessions = new Map(loaded.snap.sessions);

  // Replay: the last log starting at or before the snapshot, and every later one.
  const logs = (await disk.list(logDir))
    .map((name) => ({ name, zxid: parseZxidName(name, LOG_PREFIX) }))
    .filter((l): l is { name: string; zxid: number } => l.zxid !== null)
    .sort((a, b) => a.zxid - b.zxid);
  let first = 0;
  for (let i = 0; i < logs.length; i++) if (logs[i]!.zxid <= loaded.zxid) first = i;
  const history = new ZkHistory(loaded.zxid, options.acceptDataLoss === true, warnings);
  let replayed = 0;
  const relevant = logs.slice(first);
  for (let i = 0; i < relevant.length; i++) {
    const path = nodePath.join(logDir, relevant[i]!.name);
    const bytes = await readOrExplain(disk, path);
    // Past damage (only once it is accepted) reading goes on at the next valid txn.
    for (let from: number | null = 0; from !== null; ) {
      let scan;
      try {
        scan = readZkLog(bytes, from);
      } catch (e) {
        if (!(e instanceof ZkFormatError)) throw e;
        // A log whose header never reached the disk held nothing acknowledged, if history goes on.
        if (bytes.length < 16 || nonZeroEnd(bytes, 0) === 0) history.headerless(path, i === relevant.length - 1);
        else history.lose(`${path}: ${e.message}, so none of its txns can be read`);
        break;
      }
      for (const rec of scan.records) {
        if (rec.zxid <= history.lastZxid) continue;
        let txn;
        try {
          txn = decodeTxn(rec.bytes, 0x7fffffff);
        } catch (e) {
          throw new DataError(`${path}:${rec.offset}: ZooKeeper txn 0x${zxidHex(rec.zxid)} does not decode (${(e as Error).message})`);
        }
        history.reach(rec.zxid, path);
        replayTxn(tree, sessions, txn);
        replayed++;
      }
      if (scan.stop) history.stopped(path, scan.stop, i === relevant.length - 1);
      from = scan.stop?.validRecordAfter ?? null;
    }
  }
  history.finish();
  const lastZxid = history.lastZxid;
  tree.lastProcessedZxid = lastZxid;

  const outSnapDir = nodePath.join(outDir, VERSION_DIR);
  const existing = await disk.list(outSnapDir).catch(() => [] as string[]);
  if (existing.some((n) => n.startsWith('snapshot.') || n.startsWith('log.'))) {
    throw new DataError(`${outDir}: already holds Paddock data; give an empty or new directory`);
  }
  const { lock } = await acquireDataDirLock(disk, outDir);
  try {
    const written = await writeSnapshot(disk, outSnapDir, lastZxid, serializeSnapshot(tree, sessions));
    const completeThrough = history.completeThrough ?? lastZxid;
    return { zxid: lastZxid, completeThrough, lost: history.lost, snapshotPath: written.path, znodes: tree.size, sessions: sessions.size, replayed, warnings };
  } finally {
    await lock.release();
  }
}

async function importCommand(p: Parsed, io: DataCommandIo): Promise<number> {
  const [zkDir, outDir] = p.positional as [string, string];
  const acceptDataLoss = p.flags.has('--accept-data-loss');
  const r = await importZooKeeper(io.disk, zkDir, outDir, p.options.get('--log-dir') ?? zkDir, { acceptDataLoss });
  for (const w of r.warnings) io.err(`warning: ${w}\n`);
  for (const l of r.lost) io.err(`LOST (accepted): ${l}\n`);
  const complete = r.lost.length === 0 ? '' : `; the history is complete only up to zxid ${hex(r.completeThrough)}, ${plural(r.lost.length, 'loss', 'losses')} accepted (see above)`;
  io.out(
    `imported ${plural(r.znodes, 'znode')} and ${plural(r.sessions, 'session')} as of zxid ${hex(r.zxid)} (${plural(r.replayed, 'txn')} replayed from the ZooKeeper log${complete}) into ${r.snapshotPath}\n`,
  );
  return 0;
}
