/**
 * The zkCli.sh commands (ZooKeeper 3.8 syntax, output and exit codes) and Paddock's additions,
 * over the Paddock client. Each command prints through the context and returns normally, or
 * throws: a CliError (usage) or a client error, which the shell prints as zkCli would.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { ACL, Stat, ZooKeeperClient } from '../../client/index.js';
import { NoNodeError, joinPath } from '../../client/index.js';
import { cliMessage } from './errors.js';
import { aclLines, describeData, parseAcl, statJson, statLines } from './format.js';
import { CliError, parseOptions, type OptionSpec, type Parsed } from './options.js';

export interface ShellContext {
  /** The current client (throws when closed). */
  zk(): ZooKeeperClient;
  /** Whether the connect string has a chroot. */
  chrooted(): boolean;
  /** Whether there is a client that is not closed. */
  alive(): boolean;
  out(line: string): void;
  err(line: string): void;
  /** A progress line for long operations, rewritten in place; shown only on a terminal. null clears it. */
  progress(text: string | null): void;
  /** `text` in an ANSI colour when standard output is a terminal (and NO_COLOR is unset), else as is. */
  paint(code: number, text: string): string;
  /** A failed command's message (red on a terminal). */
  error(line: string): void;
  /** Print a JSON value instead of text (`--json`). */
  readonly json: boolean;
  printWatches: boolean;
  readonly history: string[];
  version(): string;
  connect(hosts: string | null): Promise<void>;
  close(): Promise<void>;
  quit(): void;
  /** Runs a history line again (redo). */
  run(line: string): Promise<number>;
  /** Prints a watch event as zkCli's watcher does. */
  watchEvent(type: string, path: string): void;
  /** Resolves when the user interrupts (Ctrl-C) a streaming command. */
  interrupted(): Promise<void>;
}

interface Command {
  usage: string;
  spec: OptionSpec;
  run(ctx: ShellContext, p: Parsed): Promise<void>;
}

function need(p: Parsed, n: number, usage: string): void {
  if (p.args.length < n) throw new CliError(usage);
}

function intOption(p: Parsed, name: string, usage: string): number | undefined {
  const v = p.opts.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n)) throw new CliError(usage);
  return n;
}

/** Prints text lines, or one JSON value under --json. */
function emit(ctx: ShellContext, lines: string[], json: unknown): void {
  if (ctx.json) ctx.out(JSON.stringify(json, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  else for (const l of lines) ctx.out(l);
}

function printStat(ctx: ShellContext, stat: Stat): void {
  emit(ctx, statLines(stat), statJson(stat));
}

function watchPrinter(ctx: ShellContext) {
  return (e: { type: string; path: string }): void => {
    const names: Record<string, string> = { created: 'NodeCreated', deleted: 'NodeDeleted', dataChanged: 'NodeDataChanged', childrenChanged: 'NodeChildrenChanged' };
    const name = names[e.type];
    if (name !== undefined) ctx.watchEvent(name, e.path);
  };
}

function dataText(data: Buffer | null): string {
  return data === null ? 'null' : data.toString('utf8');
}

const USAGE = {
  addWatch: 'addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE',
  create: 'create [-s] [-e] [-c] [-t ttl] path [data] [acl]',
  get: 'get [-s] [-w] path',
  ls: 'ls [-s] [-w] [-R] path',
  set: 'set [-s] [-v version] path data',
  delete: 'delete [-v version] path',
  deleteall: 'deleteall path [-b batch size]',
  stat: 'stat [-w] path',
  getAcl: 'getAcl [-s] path',
  setAcl: 'setAcl [-s] [-v version] [-R] path acl',
};

/** Every node under `path` (included), parents before children, in the server's child order. */
async function* walk(zk: ZooKeeperClient, path: string): AsyncGenerator<string> {
  const queue = [path];
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i]!;
    yield p;
    const children = await zk.getChildren(p).catch((e: unknown) => {
      if (e instanceof NoNodeError && p !== path) return [];
      throw e;
    });
    for (const c of children) queue.push(joinPath(p, c));
  }
}

/** Depth-first, as zkCli's `ls -R` (ZKUtil.visitSubTreeDFS) prints. */
async function visitDfs(zk: ZooKeeperClient, path: string, visit: (p: string) => void): Promise<void> {
  visit(path);
  const children = await zk.getChildren(path).catch((e: unknown) => (e instanceof NoNodeError ? [] : Promise.reject(e)));
  for (const c of children.sort()) await visitDfs(zk, joinPath(path, c), visit);
}

async function deleteTree(zk: ZooKeeperClient, path: string, batch: number, progress: (text: string | null) => void = () => {}): Promise<void> {
  const all: string[] = [];
  for await (const p of walk(zk, path)) all.push(p);
  all.reverse();
  for (let i = 0; i < all.length; i += batch) {
    await zk.multi(all.slice(i, i + batch).map((p) => ({ type: 'delete' as const, path: p })));
    if (all.length > batch) progress(`Deleting: ${Math.min(i + batch, all.length)} of ${all.length} nodes`);
  }
  progress(null);
}

const QUOTA_ROOT = '/zookeeper/quota';

interface Quota {
  count: number;
  bytes: number;
  countHard: number;
  byteHard: number;
}

function parseQuota(text: string): Quota {
  const q: Quota = { count: -1, bytes: -1, countHard: -1, byteHard: -1 };
  for (const part of text.split(/[,;]/)) {
    const [k, v] = part.split('=');
    const n = Number(v);
    if (!Number.isFinite(n)) continue;
    if (k === 'count') q.count = n;
    else if (k === 'bytes') q.bytes = n;
    else if (k === 'countHardLimit') q.countHard = n;
    else if (k === 'byteHardLimit') q.byteHard = n;
  }
  return q;
}

/** ZooKeeper 3.8's StatsTrack#toString for a limits node, odd `=;` included. */
function quotaText(q: Quota): string {
  return `count=${q.count},bytes=${q.bytes}=;byteHardLimit=${q.byteHard};countHardLimit=${q.countHard}`;
}

const QUOTA_FLAGS: [string, keyof Quota][] = [['n', 'count'], ['b', 'bytes'], ['N', 'countHard'], ['B', 'byteHard']];

async function setQuota(ctx: ShellContext, p: Parsed): Promise<void> {
  const usage = 'setquota -n|-b|-N|-B val path';
  const given = QUOTA_FLAGS.filter(([f]) => p.opts.has(f));
  if (given.length === 0) {
    throw new CliError('org.apache.commons.cli.MissingOptionException: Missing required option: [-n num soft quota, -b bytes soft quota, -N num hard quota, -B bytes hard quota]');
  }
  if (given.length > 1) {
    throw new CliError(`org.apache.commons.cli.AlreadySelectedException: The option '${given[1]![0]}' was specified but an option from this group has already been selected: '${given[0]![0]}'`);
  }
  need(p, 1, usage);
  const [flag, key] = given[0]!;
  const value = Number(p.opts.get(flag));
  if (!Number.isInteger(value)) throw new CliError(usage);
  const path = p.args[0]!;
  const zk = ctx.zk();
  if ((await zk.exists(path)) === null) throw new CliError(`${path} does not exist.`);
  const quotaPath = QUOTA_ROOT + (path === '/' ? '' : path);
  const limits = `${quotaPath}/zookeeper_limits`;
  const existing = await zk.getData(limits).catch((e: unknown) => (e instanceof NoNodeError ? null : Promise.reject(e)));
  const q = existing === null ? parseQuota('') : parseQuota(existing.data.toString('utf8'));
  q[key] = value;
  if (existing !== null) {
    await zk.setData(limits, quotaText(q));
    return;
  }
  let at = QUOTA_ROOT;
  for (const part of path.split('/').filter((s) => s !== '')) {
    at += `/${part}`;
    await zk.create(at).catch((e: unknown) => (e instanceof Error && e.name === 'NodeExistsError' ? '' : Promise.reject(e)));
  }
  await zk.create(limits, quotaText(q));
  await zk.create(`${quotaPath}/zookeeper_stats`, 'count=0,bytes=0').catch((e: unknown) => (e instanceof Error && e.name === 'NodeExistsError' ? '' : Promise.reject(e)));
}

async function listQuota(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, 'listquota path');
  const path = p.args[0]!;
  const base = QUOTA_ROOT + (path === '/' ? '' : path);
  const zk = ctx.zk();
  ctx.err(`absolute path is ${base}/zookeeper_limits`);
  try {
    const limits = await zk.getData(`${base}/zookeeper_limits`);
    const stats = await zk.getData(`${base}/zookeeper_stats`).catch(() => null);
    emit(
      ctx,
      [`Output quota for ${path} ${limits.data.toString('utf8')}`, ...(stats ? [`Output stat for ${path} ${stats.data.toString('utf8')}`] : [])],
      { path, quota: parseQuota(limits.data.toString('utf8')), stat: stats === null ? null : stats.data.toString('utf8') },
    );
  } catch (e) {
    if (!(e instanceof NoNodeError)) throw e;
    ctx.err(`quota for ${path} does not exist.`);
  }
}

async function delQuota(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, 'delquota [-n|-b|-N|-B] path');
  const path = p.args[0]!;
  const base = QUOTA_ROOT + (path === '/' ? '' : path);
  const zk = ctx.zk();
  const limits = await zk.getData(`${base}/zookeeper_limits`).catch((e: unknown) => (e instanceof NoNodeError ? null : Promise.reject(e)));
  if (limits === null) throw new CliError(`Quota does not exist for ${path}`);
  const given = QUOTA_FLAGS.filter(([f]) => p.opts.has(f));
  if (given.length === 0) {
    await deleteTree(zk, base, 1000).catch(async () => {
      await zk.delete(`${base}/zookeeper_limits`);
      await zk.delete(`${base}/zookeeper_stats`).catch(() => undefined);
    });
    return;
  }
  const q = parseQuota(limits.data.toString('utf8'));
  for (const [, key] of given) q[key] = -1;
  await zk.setData(`${base}/zookeeper_limits`, quotaText(q));
}

async function create(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, USAGE.create);
  const [s, e, c, t] = ['s', 'e', 'c', 't'].map((f) => p.opts.has(f));
  let ttl: number | undefined;
  if (t) {
    ttl = Number(p.opts.get('t'));
    if (!Number.isInteger(ttl)) throw new CliError('-t argument must be a long value');
  }
  if (e && t) throw new CliError('TTLs cannot be used with Ephemeral znodes');
  if (c && t) throw new CliError('TTLs cannot be used with Container znodes');
  if (c && (s || e)) throw new CliError('-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.');
  const mode = c ? 'container' : t ? (s ? 'persistentSequentialWithTtl' : 'persistentWithTtl') : e ? (s ? 'ephemeralSequential' : 'ephemeral') : s ? 'persistentSequential' : 'persistent';
  const [path, data, aclText] = p.args as [string, string | undefined, string | undefined];
  let acl: ACL[] | undefined;
  if (aclText !== undefined) {
    acl = parseAcl(aclText, (l) => ctx.err(l));
    if (acl.length === 0) {
      ctx.err('KeeperErrorCode = InvalidACL');
      throw new CliError('Acl is not valid : null');
    }
  }
  validate(path);
  const created = await ctx.zk().create(path, data ?? null, { mode, acl, ttlMs: ttl });
  if (ctx.json) emit(ctx, [], { created });
  else ctx.err(`Created ${created}`);
}

/** The client-side path check of ZooKeeper's PathUtils, with its messages. */
function validate(path: string): void {
  if (path.length === 0) throw new CliError('Path length must be > 0');
  if (!path.startsWith('/')) throw new CliError('Path must start with / character');
  if (path.length > 1 && path.endsWith('/')) throw new CliError('Path must not end with / character');
}

async function ls(ctx: ShellContext, p: Parsed): Promise<void> {
  if (p.args.length === 2 && !p.opts.has('w')) {
    ctx.err("'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.");
    p.opts.set('w', true);
  }
  need(p, 1, USAGE.ls);
  const path = p.args[0]!;
  validate(path);
  const zk = ctx.zk();
  if (p.opts.has('R')) {
    const all: string[] = [];
    await zk.getChildren(path);
    await visitDfs(zk, path, (x) => all.push(x));
    // zkCli's -R -w leaves a child watch on every node listed.
    if (p.opts.has('w')) for (const x of all) await zk.getChildren(x, { watch: watchPrinter(ctx) }).catch(() => undefined);
    emit(ctx, all, all);
    return;
  }
  const watch = p.opts.has('w') ? watchPrinter(ctx) : undefined;
  const { children, stat } = await zk.getChildren2(path, { watch });
  children.sort();
  if (ctx.json) {
    emit(ctx, [], p.opts.has('s') ? { children, stat: statJson(stat) } : children);
    return;
  }
  ctx.out(`[${children.join(', ')}]`);
  if (p.opts.has('s')) printStat(ctx, stat);
}

async function get(ctx: ShellContext, p: Parsed): Promise<void> {
  if (p.args.length === 2 && !p.opts.has('w')) {
    ctx.err("'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.");
    p.opts.set('w', true);
  }
  need(p, 1, USAGE.get);
  const path = p.args[0]!;
  validate(path);
  const watch = p.opts.has('w') ? watchPrinter(ctx) : undefined;
  const { data, stat } = await ctx.zk().getData(path, { watch });
  // The client cannot tell null data from zero bytes; zkCli prints "null" for a node created without data, the common case.
  const value = data.length === 0 ? null : data;
  if (ctx.json) {
    emit(ctx, [], { data: value === null ? null : value.toString('utf8'), ...(p.opts.has('s') ? { stat: statJson(stat) } : {}) });
    return;
  }
  ctx.out(dataText(value));
  if (p.opts.has('s')) printStat(ctx, stat);
}

async function set(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 2, USAGE.set);
  const version = intOption(p, 'v', USAGE.set);
  const stat = await ctx.zk().setData(p.args[0]!, p.args[1]!, { version });
  if (p.opts.has('s')) printStat(ctx, stat);
}

async function del(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, USAGE.delete);
  // zkCli warns about the old form and, as it does, ignores the version given that way.
  if (p.args.length > 1) ctx.err("'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.");
  const version = intOption(p, 'v', USAGE.delete);
  validate(p.args[0]!);
  await ctx.zk().delete(p.args[0]!, { version });
}

async function deleteall(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, USAGE.deleteall);
  const batch = intOption(p, 'b', USAGE.deleteall) ?? 1000;
  const path = p.args[0]!;
  validate(path);
  if (path === '/') throw new CliError('Path must not be the root');
  await ctx.zk().getChildren(path);
  await deleteTree(ctx.zk(), path, Math.max(1, batch), (t) => ctx.progress(t));
}

async function stat(ctx: ShellContext, p: Parsed): Promise<void> {
  if (p.args.length === 2 && !p.opts.has('w')) {
    ctx.err("'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.");
    p.opts.set('w', true);
  }
  need(p, 1, USAGE.stat);
  const path = p.args[0]!;
  validate(path);
  const watch = p.opts.has('w') ? watchPrinter(ctx) : undefined;
  const s = await ctx.zk().exists(path, { watch });
  if (s === null) throw new NoNodeError(path);
  printStat(ctx, s);
}

async function getAcl(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, USAGE.getAcl);
  const { acl, stat: s } = await ctx.zk().getACL(p.args[0]!);
  if (ctx.json) {
    emit(ctx, [], { acl: acl.map((a) => ({ scheme: a.id.scheme, id: a.id.id, perms: a.perms })), ...(p.opts.has('s') ? { stat: statJson(s) } : {}) });
    return;
  }
  for (const l of aclLines(acl)) ctx.out(l);
  if (p.opts.has('s')) printStat(ctx, s);
}

async function setAcl(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 2, USAGE.setAcl);
  const version = intOption(p, 'v', USAGE.setAcl);
  const [path, text] = p.args as [string, string];
  const acl = parseAcl(text, (l) => ctx.err(l));
  if (acl.length === 0) throw new CliError('Acl is not valid : null');
  const zk = ctx.zk();
  if (p.opts.has('R')) {
    for await (const node of walk(zk, path)) await zk.setACL(node, acl, { version });
    return;
  }
  const s = await zk.setACL(path, acl, { version });
  if (p.opts.has('s')) printStat(ctx, s);
}

async function config(ctx: ShellContext, p: Parsed): Promise<void> {
  const zk = ctx.zk();
  // getConfig reads past a chroot but sets no watch; with -w read the node itself, watched.
  const { data, stat: s } = p.opts.has('w') && !ctx.chrooted() ? await zk.getData('/zookeeper/config', { watch: watchPrinter(ctx) }) : await zk.getConfig();
  const text = data.toString('utf8');
  if (ctx.json) {
    emit(ctx, [], { config: text, ...(p.opts.has('s') ? { stat: statJson(s) } : {}) });
    return;
  }
  if (p.opts.has('c')) {
    const hosts = text
      .split('\n')
      .filter((l) => /^server\.\d+=/.test(l))
      .map((l) => {
        const [addr, client] = l.slice(l.indexOf('=') + 1).split(';');
        const host = (addr ?? '').split(':')[0];
        const port = (client ?? '').split(':').pop();
        return `${host}:${port}`;
      });
    const version = /^version=(.*)$/m.exec(text)?.[1] ?? '';
    ctx.out(`${version} ${hosts.join(',')}`.trim());
  } else {
    ctx.out(text);
  }
  if (p.opts.has('s')) printStat(ctx, s);
}

async function reconfig(ctx: ShellContext, p: Parsed): Promise<void> {
  const usage = 'reconfig [-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]';
  // zkCli's long options (-add, -remove, -members, -file) are single words here.
  const change: { joining?: string; leaving?: string; newMembers?: string; fromConfig?: number } = {};
  const words = [...p.args];
  let withStat = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const v = words[i + 1];
    if (w === '-s') withStat = true;
    else if (v === undefined) throw new CliError(usage);
    else if (w === '-add') (change.joining = v), i++;
    else if (w === '-remove') (change.leaving = v), i++;
    else if (w === '-members') (change.newMembers = v), i++;
    else if (w === '-v') (change.fromConfig = Number.parseInt(v, 16)), i++;
    else if (w === '-file') {
      change.newMembers = readFileSync(v, 'utf8').split('\n').filter((l) => /^server\.\d+=/.test(l)).join(',');
      i++;
    } else throw new CliError(usage);
  }
  if (change.joining === undefined && change.leaving === undefined && change.newMembers === undefined) throw new CliError(usage);
  const { data, stat: s } = await ctx.zk().reconfig(change);
  ctx.out('Committed new configuration:');
  ctx.out(data.toString('utf8'));
  if (withStat) printStat(ctx, s);
}

async function addWatch(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, USAGE.addWatch);
  const mode = p.opts.get('m') ?? 'PERSISTENT_RECURSIVE';
  if (mode !== 'PERSISTENT' && mode !== 'PERSISTENT_RECURSIVE') throw new CliError(USAGE.addWatch);
  await ctx.zk().addWatch(p.args[0]!, watchPrinter(ctx), { recursive: mode === 'PERSISTENT_RECURSIVE' });
}

async function removewatches(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, 'removewatches path [-c|-d|-a] [-l]');
  const type = p.opts.has('c') ? 'children' : p.opts.has('d') ? 'data' : 'any';
  await ctx.zk().removeWatches(p.args[0]!, type, { local: p.opts.has('l') });
}

async function history(ctx: ShellContext): Promise<void> {
  const h = ctx.history;
  if (h.length === 0) ctx.out('0 - null');
  for (let i = Math.max(0, h.length - 11); i < h.length; i++) ctx.out(`${i} - ${h[i]}`);
}

// ---------------------------------------------------------------- Paddock's additions

async function tree(ctx: ShellContext, p: Parsed): Promise<void> {
  const root = p.args[0] ?? '/';
  const zk = ctx.zk();
  const rows: { path: string; depth: number; bytes: number; children: number }[] = [];
  const visit = async (path: string, depth: number): Promise<void> => {
    const { children, stat: s } = await zk.getChildren2(path);
    rows.push({ path, depth, bytes: s.dataLength, children: s.numChildren });
    for (const c of children.sort()) await visit(joinPath(path, c), depth + 1).catch((e: unknown) => (e instanceof NoNodeError ? undefined : Promise.reject(e)));
  };
  await visit(root, 0);
  const lines = rows.map((r) => {
    const name = r.depth === 0 ? r.path : r.path.slice(r.path.lastIndexOf('/') + 1);
    const size = `(${r.bytes} B${r.children > 0 ? `, ${r.children} children` : ''})`;
    return `${'  '.repeat(r.depth)}${r.children > 0 ? ctx.paint(34, name) : name} ${ctx.paint(2, size)}`;
  });
  emit(ctx, lines, rows.map(({ path, bytes, children }) => ({ path, bytes, children })));
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

async function find(ctx: ShellContext, p: Parsed): Promise<void> {
  const usage = 'find path [-name glob] [-data text]';
  need(p, 1, usage);
  const name = p.opts.get('n');
  const nameRe = typeof name === 'string' ? globToRegExp(name) : null;
  const needle = p.opts.get('d');
  const zk = ctx.zk();
  const found: string[] = [];
  for await (const node of walk(zk, p.args[0]!)) {
    if (nameRe !== null && !nameRe.test(node.slice(node.lastIndexOf('/') + 1))) continue;
    if (typeof needle === 'string') {
      const data = await zk.getData(node).catch(() => null);
      if (data === null || !data.data.toString('utf8').includes(needle)) continue;
    }
    found.push(node);
  }
  emit(ctx, found, found);
}

async function view(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, 'view path');
  const { data } = await ctx.zk().getData(p.args[0]!);
  const shown = describeData(data);
  emit(ctx, [shown.text], { kind: shown.kind, data: shown.kind === 'json' ? JSON.parse(shown.text) : shown.kind === 'text' ? shown.text : data.toString('hex') });
}

async function watchStream(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, 'watch path');
  const zk = ctx.zk();
  const stop = new AbortController();
  void ctx.interrupted().then(() => stop.abort());
  for await (const e of zk.watch(p.args[0]!, { recursive: true, signal: stop.signal })) {
    if (e.type === 'resync') {
      if (e.reason === 'initial') ctx.err(`Watching ${p.args[0]} and below (Ctrl-C to stop)`);
      else emit(ctx, [`(${e.reason}: events may have been missed)`], e);
      continue;
    }
    let extra = '';
    if (e.type === 'dataChanged' || e.type === 'created') {
      const d = await zk.getData(e.path).catch(() => null);
      if (d !== null) extra = ` ${describeData(d.data).text.split('\n').join(' ')}`;
    }
    emit(ctx, [`${e.type} ${e.path}${extra}`], e);
  }
}

interface ExportedNode {
  path: string;
  data: string;
  encoding: 'utf8' | 'base64';
  acl: { scheme: string; id: string; perms: number }[];
  ephemeral?: boolean;
}

async function exportTree(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, 'export path [file]');
  const zk = ctx.zk();
  const nodes: ExportedNode[] = [];
  for await (const node of walk(zk, p.args[0]!)) {
    if (node === '/zookeeper' || node.startsWith('/zookeeper/')) continue;
    const { data, stat: s } = await zk.getData(node);
    const { acl } = await zk.getACL(node);
    const text = data.toString('utf8');
    const utf8 = Buffer.from(text, 'utf8').equals(data);
    nodes.push({
      path: node,
      data: utf8 ? text : data.toString('base64'),
      encoding: utf8 ? 'utf8' : 'base64',
      acl: acl.map((a) => ({ scheme: a.id.scheme, id: a.id.id, perms: a.perms })),
      ...(s.ephemeralOwner !== 0n ? { ephemeral: true } : {}),
    });
    if (nodes.length % 100 === 0) ctx.progress(`Exporting: ${nodes.length} nodes`);
  }
  ctx.progress(null);
  const json = JSON.stringify({ root: p.args[0], nodes }, null, 2);
  if (p.args[1] !== undefined) {
    writeFileSync(p.args[1], json + '\n');
    ctx.err(`Exported ${nodes.length} nodes to ${p.args[1]}`);
  } else {
    ctx.out(json);
  }
}

async function importTree(ctx: ShellContext, p: Parsed): Promise<void> {
  need(p, 1, 'import file [path]');
  const doc = JSON.parse(readFileSync(p.args[0]!, 'utf8')) as { root: string; nodes: ExportedNode[] };
  const target = p.args[1] ?? doc.root;
  const zk = ctx.zk();
  let done = 0;
  for (const n of doc.nodes) {
    if (n.ephemeral) continue;
    const rel = n.path.slice(doc.root === '/' ? 0 : doc.root.length);
    const path = target === '/' ? rel || '/' : target + rel;
    const data = n.encoding === 'base64' ? Buffer.from(n.data, 'base64') : n.data;
    const acl = n.acl.map((a) => ({ perms: a.perms, id: { scheme: a.scheme, id: a.id } }));
    try {
      await zk.create(path, data, { acl });
    } catch (e) {
      if (!(e instanceof Error && e.name === 'NodeExistsError')) throw e;
      await zk.setData(path, data);
      await zk.setACL(path, acl);
    }
    done++;
    if (done % 100 === 0) ctx.progress(`Importing: ${done} of ${doc.nodes.length} nodes`);
  }
  ctx.progress(null);
  ctx.err(`Imported ${done} nodes under ${target}`);
}

function simple(usage: string, spec: OptionSpec, run: (ctx: ShellContext, p: Parsed) => Promise<void>): Command {
  return { usage, spec, run };
}

/** The commands, in the order zkCli lists them. */
export const COMMANDS: Record<string, Command> = {
  addWatch: simple(USAGE.addWatch, { withValue: 'm' }, addWatch),
  addauth: simple('addauth scheme auth', {}, async (ctx, p) => {
    need(p, 1, 'addauth scheme auth');
    await ctx.zk().addAuth(p.args[0]!, p.args[1] ?? '');
  }),
  close: simple('close ', {}, (ctx) => ctx.close()),
  config: simple('config [-c] [-w] [-s]', { flags: 'cws' }, config),
  connect: simple('connect host:port', {}, (ctx, p) => ctx.connect(p.args[0] ?? null)),
  create: simple(USAGE.create, { flags: 'sec', withValue: 't' }, create),
  delete: simple(USAGE.delete, { withValue: 'v' }, del),
  deleteall: simple(USAGE.deleteall, { withValue: 'b' }, deleteall),
  delquota: simple('delquota [-n|-b|-N|-B] path', { flags: 'nbNB' }, delQuota),
  get: simple(USAGE.get, { flags: 'sw' }, get),
  getAcl: simple(USAGE.getAcl, { flags: 's' }, getAcl),
  getAllChildrenNumber: simple('getAllChildrenNumber path', {}, async (ctx, p) => {
    need(p, 1, 'getAllChildrenNumber path');
    const n = await ctx.zk().getAllChildrenNumber(p.args[0]!);
    emit(ctx, [String(n)], n);
  }),
  getEphemerals: simple('getEphemerals path', {}, async (ctx, p) => {
    const list = await ctx.zk().getEphemerals(p.args[0] ?? '/');
    emit(ctx, [`[${list.join(', ')}]`], list);
  }),
  history: simple('history ', {}, history),
  listquota: simple('listquota path', {}, listQuota),
  ls: simple(USAGE.ls, { flags: 'swR' }, ls),
  printwatches: simple('printwatches on|off', {}, async (ctx, p) => {
    const v = p.args[0];
    if (v === undefined) ctx.out(`printwatches is ${ctx.printWatches ? 'on' : 'off'}`);
    else ctx.printWatches = v === 'on';
  }),
  quit: simple('quit ', {}, async (ctx) => ctx.quit()),
  reconfig: { usage: '', spec: {}, run: reconfig },
  redo: simple('redo cmdno', {}, async (ctx, p) => {
    const n = Number(p.args[0]);
    const line = ctx.history[n];
    if (!Number.isInteger(n) || line === undefined) throw new CliError('Command index out of range');
    await ctx.run(line);
  }),
  removewatches: simple('removewatches path [-c|-d|-a] [-l]', { flags: 'cdal' }, removewatches),
  set: simple(USAGE.set, { flags: 's', withValue: 'v' }, set),
  setAcl: simple(USAGE.setAcl, { flags: 'sR', withValue: 'v' }, setAcl),
  setquota: simple('setquota -n|-b|-N|-B val path', { withValue: 'nbNB' }, setQuota),
  stat: simple(USAGE.stat, { flags: 'w' }, stat),
  sync: simple('sync path', {}, async (ctx, p) => {
    need(p, 1, 'sync path');
    await ctx.zk().sync(p.args[0]!);
    emit(ctx, ['Sync is OK'], { sync: 'ok' });
  }),
  version: simple('version ', {}, async (ctx) => emit(ctx, [`ZooKeeper CLI version: ${ctx.version()}`], { version: ctx.version() })),
  whoami: simple('whoami ', {}, async (ctx) => {
    const ids = await ctx.zk().whoAmI();
    emit(ctx, ['Auth scheme: User', ...ids.map((i) => `${i.scheme}: ${i.user}`)], ids);
  }),
};

/** Paddock's own commands, listed after zkCli's. */
export const EXTRA_COMMANDS: Record<string, Command> = {
  tree: simple('tree [path]            # the subtree with data sizes', {}, tree),
  find: simple('find path [-n glob] [-d text]   # nodes by name or data', { withValue: 'nd' }, find),
  view: simple('view path              # data as JSON, text or hex, as it looks', {}, view),
  watch: simple('watch path             # stream changes under path until Ctrl-C', {}, watchStream),
  export: simple('export path [file]     # the subtree as JSON with ACLs', {}, exportTree),
  import: simple('import file [path]     # create or update the nodes of an export', {}, importTree),
};

export function allCommandNames(): string[] {
  return [...Object.keys(COMMANDS), ...Object.keys(EXTRA_COMMANDS)];
}

/** zkCli's usage listing, printed for an unknown command. */
export function usageListing(): string[] {
  const names = Object.keys(COMMANDS).sort();
  const lines = ['ZooKeeper -server host:port -client-configuration properties-file cmd args'];
  for (const n of names) {
    if (n === 'reconfig') {
      lines.push('\treconfig [-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]');
      continue;
    }
    lines.push(`\t${COMMANDS[n]!.usage}`);
  }
  return lines;
}

/** Commands that work without a session. */
const LOCAL_COMMANDS = new Set(['close', 'connect', 'history', 'printwatches', 'quit', 'redo', 'version']);

/** Runs one command's words; returns the exit status (0, 1, or 127 for an unknown command). */
export async function runCommand(ctx: ShellContext, words: string[]): Promise<number> {
  const [name, ...rest] = words;
  if (name === undefined) return 0;
  const cmd = COMMANDS[name] ?? EXTRA_COMMANDS[name];
  if (cmd === undefined) {
    for (const l of usageListing()) ctx.err(l);
    ctx.error(`Command not found: Command not found ${name}`);
    return 127;
  }
  if (!LOCAL_COMMANDS.has(name) && !ctx.alive()) {
    // zkCli checks this before parsing, prints it on standard output and leaves the status alone.
    ctx.out('Not connected');
    return 0;
  }
  try {
    const parsed = name === 'reconfig' ? { opts: new Map<string, string | true>(), args: rest } : parseOptions(rest, cmd.spec);
    await cmd.run(ctx, parsed);
    return 0;
  } catch (e) {
    const message = e instanceof CliError ? e.message : cliMessage(e, words[words.length - 1]);
    if (ctx.json) ctx.err(JSON.stringify({ error: e instanceof Error && 'code' in e ? (e as { codeName?: string }).codeName ?? 'ERROR' : 'ERROR', message }));
    else ctx.error(message);
    return e instanceof CliError ? e.exitCode : 1;
  }
}
