/**
 * The console's JSON API. Reads of the tree's shape (paged children, sessions, watches) come from
 * the server in-process, checked against the caller's ids with ZooKeeper's ACL rules; data reads
 * and every write go through the caller's own ZooKeeper session on the loopback client port, so
 * the server applies ACLs, versions (a stale edit gets BADVERSION) and quotas as for any client.
 */
import { checkAcl } from '../../acl/index.js';
import { KeeperError, validatePath, type ZooKeeperClient } from '../../client/index.js';
import type { CreateMode, Stat } from '../../client/types.js';
import { Err, errName, Perm } from '../../jute/constants.js';
import type { ACL, Id } from '../../jute/records.js';
import type { QuorumReport } from '../../pipeline/pipeline.js';
import { metricsSource } from '../../server/fourletter.js';
import { kindOfOwner } from '../../tree/znode.js';
import type { AdminContext } from '../commands.js';
import { ApiError, intField, intParam, stringField } from './http-util.js';

/** One page of children at most; a page of 100k would stall the browser, not the server. */
export const MAX_PAGE = 1000;
/** A recursive delete removes at most this many znodes; larger subtrees need several. */
export const MAX_RECURSIVE_DELETE = 100_000;
/** Deletes sent before waiting for their replies (one session answers in order). */
const DELETE_WINDOW = 500;
const MAX_LISTED_WATCH_PATHS = 1000;
const MAX_LISTED_EPHEMERALS = 100;

/** Who is calling: the login's name (null when anonymous on loopback) and its ZooKeeper session. */
export interface ConsoleUser {
  readonly name: string | null;
  readonly client: ZooKeeperClient;
}

/** The ids the server holds for the caller's session (ip plus any digest), as its ACL checks see them. */
export function idsOf(ctx: AdminContext, user: ConsoleUser): Id[] {
  const sessionId = user.client.sessionId;
  for (const c of ctx.connections()) if (c.established && c.sessionId === sessionId) return c.authIds;
  throw new ApiError(503, 'CONNECTIONLOSS', 'the console\'s session is reconnecting; try again');
}

function can(ctx: AdminContext, acl: readonly ACL[] | null, perm: number, ids: readonly Id[]): boolean {
  return checkAcl(acl, perm, ids, { skipACL: ctx.config.skipACL });
}

/** Sessions and watches reveal session ids: as the admin commands, they need every permission on "/". */
export function requireAdmin(ctx: AdminContext, user: ConsoleUser): void {
  const ids = idsOf(ctx, user);
  const rootAcl = ctx.server.tree.getNode('/')?.acl ?? null;
  for (let bit = 1; bit <= Perm.ALL; bit <<= 1) {
    if (!can(ctx, rootAcl, bit, ids)) throw new ApiError(403, 'NOAUTH', 'sessions and watches need every permission on /');
  }
}

export function pathParam(params: URLSearchParams | Record<string, unknown>, name = 'path'): string {
  const path = params instanceof URLSearchParams ? params.get(name) : params[name];
  if (typeof path !== 'string') throw new ApiError(400, 'BADARGUMENTS', `'${name}' is required`);
  try {
    validatePath(path);
  } catch (err) {
    throw toApiError(err);
  }
  return path;
}

/** A client error as an HTTP answer carrying ZooKeeper's code name. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (!(err instanceof KeeperError)) return new ApiError(500, 'SYSTEMERROR', (err as Error)?.message ?? String(err));
  const status: Record<number, number> = {
    [Err.NONODE]: 404,
    [Err.NOAUTH]: 403,
    [Err.BADVERSION]: 409,
    [Err.NODEEXISTS]: 409,
    [Err.NOTEMPTY]: 409,
    [Err.BADARGUMENTS]: 400,
    [Err.CONNECTIONLOSS]: 503,
    [Err.SESSIONEXPIRED]: 503,
  };
  return new ApiError(status[err.code] ?? 500, errName(err.code), err.message, { code: err.code });
}

// ---- server ----

export function info(ctx: AdminContext, user: ConsoleUser | null, requireLogin: boolean): Record<string, unknown> {
  // Before a login, an exposed console says only that one is needed.
  if (requireLogin && user === null) return { requireLogin, user: null };
  const src = metricsSource(ctx);
  const c = ctx.config;
  const quorum = ctx.server.quorumStatus?.() ?? null;
  const members =
    c.servers.length > 0
      ? c.servers.map((s) => ({ id: s.id, address: `${s.addresses[0]?.host ?? ''}:${s.quorumPort}:${s.electionPort}`, type: s.type, self: s.id === c.serverId }))
      : [{ id: c.serverId, address: `${c.clientPortAddress}:${ctx.listeningPort}`, type: 'participant', self: true }];
  return {
    // The mode srvr and mntr report (zk_server_state): standalone today, leader/follower in an ensemble.
    mode: src.serverState,
    version: src.version,
    serverId: c.serverId,
    clientPort: ctx.listeningPort,
    leaderId: quorum === null || quorum.leaderId === null ? null : Number(quorum.leaderId),
    members: members.map((m) => ({ ...m, role: memberRole(m, src.serverState, quorum) })),
    lastZxid: `0x${ctx.server.lastZxid().toString(16)}`,
    znodeCount: src.znodeCount,
    connections: src.connectionCount,
    sessions: src.globalSessions,
    watches: src.watchCount,
    ephemerals: src.ephemeralsCount,
    uptimeMs: src.uptimeMs,
    requireLogin,
    user: user?.name ?? null,
  };
}

/**
 * A member's role as this server sees it: its own mode, the leader it follows or is, and on a
 * leader the learners in broadcast with it ("not synced" for the rest). A follower cannot see its
 * peers, so they are "unknown" there.
 */
function memberRole(m: { id: number; self: boolean; type: string }, own: string, q: QuorumReport | null): string {
  if (m.self) return own;
  if (q === null || q.leaderId === null) return 'unknown';
  const sid = BigInt(m.id);
  if (sid === q.leaderId) return 'leader';
  if (q.mode !== 'leader') return 'unknown';
  if (q.syncedFollowerIds.includes(sid)) return 'follower';
  if (q.syncedObserverIds.includes(sid)) return 'observer';
  return 'not synced';
}

// ---- tree ----

interface ChildEntry {
  name: string;
  numChildren: number;
  dataLength: number;
  ephemeral: boolean;
}

/** Sorted child names per node, kept while the node's children are unchanged: paging 100k children re-sorts once. */
export class ChildNameCache {
  private readonly entries = new Map<string, { key: string; names: string[] }>();
  constructor(private readonly maxEntries: number) {}

  sortedNames(path: string, key: string, load: () => string[]): string[] {
    const hit = this.entries.get(path);
    if (hit !== undefined && hit.key === key) {
      this.entries.delete(path);
      this.entries.set(path, hit);
      return hit.names;
    }
    const names = load().sort();
    this.entries.delete(path);
    this.entries.set(path, { key, names });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return names;
  }
}

export function children(ctx: AdminContext, user: ConsoleUser, params: URLSearchParams, cache: ChildNameCache): Record<string, unknown> {
  const path = pathParam(params);
  const offset = intParam(params, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = intParam(params, 'limit', 200, 1, MAX_PAGE);
  const filter = params.get('filter') ?? '';
  const tree = ctx.server.tree;
  const node = tree.getNode(path);
  if (node === undefined) throw new ApiError(404, 'NONODE', `no node ${path}`);
  if (!can(ctx, node.acl, Perm.READ, idsOf(ctx, user))) throw new ApiError(403, 'NOAUTH', `no READ permission on ${path}`);
  const names = cache.sortedNames(path, `${node.storedCversion}:${node.pzxid}:${node.numChildren}`, () => node.childNames());
  const matching = filter === '' ? names : names.filter((n) => n.includes(filter));
  const prefix = path === '/' ? '/' : `${path}/`;
  const extended = ctx.config.extendedTypesEnabled;
  const page: ChildEntry[] = [];
  for (const name of matching.slice(offset, offset + limit)) {
    const child = tree.getNode(prefix + name);
    if (child === undefined) continue;
    page.push({ name, numChildren: child.numChildren, dataLength: tree.statOf(child).dataLength, ephemeral: kindOfOwner(child.ephemeralOwner, extended) === 'ephemeral' });
  }
  return { path, total: matching.length, offset, children: page };
}

export function descendants(ctx: AdminContext, user: ConsoleUser, params: URLSearchParams): Record<string, unknown> {
  const path = pathParam(params);
  const node = ctx.server.tree.getNode(path);
  if (node === undefined) throw new ApiError(404, 'NONODE', `no node ${path}`);
  if (!can(ctx, node.acl, Perm.READ, idsOf(ctx, user))) throw new ApiError(403, 'NOAUTH', `no READ permission on ${path}`);
  return { path, descendants: ctx.server.tree.countDescendants(path) };
}

function statJson(stat: Stat): Record<string, unknown> {
  return {
    czxid: `0x${stat.czxid.toString(16)}`,
    mzxid: `0x${stat.mzxid.toString(16)}`,
    pzxid: `0x${stat.pzxid.toString(16)}`,
    ctime: stat.ctime,
    mtime: stat.mtime,
    version: stat.version,
    cversion: stat.cversion,
    aversion: stat.aversion,
    ephemeralOwner: `0x${BigInt.asUintN(64, stat.ephemeralOwner).toString(16)}`,
    dataLength: stat.dataLength,
    numChildren: stat.numChildren,
  };
}

function aclJson(acl: readonly ACL[]): Record<string, unknown>[] {
  const letters: [number, string][] = [[Perm.CREATE, 'c'], [Perm.DELETE, 'd'], [Perm.READ, 'r'], [Perm.WRITE, 'w'], [Perm.ADMIN, 'a']];
  return acl.map((a) => ({ scheme: a.id.scheme, id: a.id.id, perms: letters.filter(([bit]) => (a.perms & bit) !== 0).map(([, l]) => l).join('') }));
}

export async function readNode(user: ConsoleUser, params: URLSearchParams): Promise<Record<string, unknown>> {
  const path = pathParam(params);
  try {
    const { data, stat } = await user.client.getData(path);
    // getACL needs READ or ADMIN in ZooKeeper 3.8; a node readable without it still shows its data.
    const acl = await user.client.getACL(path).then((r) => aclJson(r.acl), (err: unknown) => ({ error: toApiError(err).code }));
    return { path, data: data.toString('base64'), stat: statJson(stat), acl };
  } catch (err) {
    throw toApiError(err);
  }
}

function dataField(body: Record<string, unknown>): Buffer {
  const text = body.data ?? '';
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new ApiError(400, 'BADARGUMENTS', "'data' must be base64");
  return Buffer.from(text, 'base64');
}

/** setData with the version the editor read: a concurrent change answers 409 BADVERSION with the node as it is now. */
export async function writeNode(user: ConsoleUser, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const path = pathParam(body);
  const version = intField(body, 'version');
  const data = dataField(body);
  try {
    const stat = await user.client.setData(path, data, { version });
    return { path, stat: statJson(stat) };
  } catch (err) {
    const apiErr = toApiError(err);
    if (apiErr.code !== 'BADVERSION') throw apiErr;
    const now = await user.client.exists(path).catch(() => null);
    throw new ApiError(409, 'BADVERSION', `${path} changed since it was read (version ${version}; now ${now?.version ?? 'deleted'})`, {
      code: Err.BADVERSION,
      expectedVersion: version,
      currentVersion: now?.version ?? null,
    });
  }
}

const CREATE_MODES: readonly CreateMode[] = ['persistent', 'persistentSequential', 'container'];

export async function createNode(user: ConsoleUser, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const mode = (body.mode ?? 'persistent') as CreateMode;
  if (!CREATE_MODES.includes(mode)) throw new ApiError(400, 'BADARGUMENTS', `'mode' must be one of ${CREATE_MODES.join(', ')}`);
  const path = stringField(body, 'path');
  try {
    validatePath(path, mode === 'persistentSequential');
    const created = await user.client.create(path, dataField(body), { mode });
    return { path: created };
  } catch (err) {
    throw toApiError(err);
  }
}

/** Deletes a node (at the version read), or with `recursive` its whole subtree, children first. */
export async function deleteNode(ctx: AdminContext, user: ConsoleUser, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const path = pathParam(body);
  if (path === '/') throw new ApiError(400, 'BADARGUMENTS', 'the root cannot be deleted');
  try {
    if (body.recursive !== true) {
      await user.client.delete(path, { version: intField(body, 'version', -1) });
      return { path, deleted: 1 };
    }
    const paths = subtreeForDelete(ctx, user, path);
    return { path, deleted: await deleteAll(user.client, paths) };
  } catch (err) {
    throw toApiError(err);
  }
}

/** The subtree's paths in preorder; a node the caller cannot read stops it, as zkCli's deleteall would. */
function subtreeForDelete(ctx: AdminContext, user: ConsoleUser, root: string): string[] {
  const tree = ctx.server.tree;
  const ids = idsOf(ctx, user);
  const out: string[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const node = tree.getNode(p);
    if (node === undefined) continue;
    out.push(p);
    if (out.length > MAX_RECURSIVE_DELETE) throw new ApiError(400, 'BADARGUMENTS', `over ${MAX_RECURSIVE_DELETE} znodes under ${root}: delete a part first`);
    if (node.numChildren > 0 && !can(ctx, node.acl, Perm.READ, ids)) throw new ApiError(403, 'NOAUTH', `no READ permission on ${p} to list its children`);
    for (const child of node.orderedChildPaths()) stack.push(child);
  }
  if (out.length === 0) throw new ApiError(404, 'NONODE', `no node ${root}`);
  return out;
}

/** Deletes in reverse preorder (children before parents); the session answers in order, so a window of requests is in flight. */
async function deleteAll(client: ZooKeeperClient, preorder: string[]): Promise<number> {
  let deleted = 0;
  for (let end = preorder.length; end > 0; end -= DELETE_WINDOW) {
    const batch = preorder.slice(Math.max(0, end - DELETE_WINDOW), end).reverse();
    const results = await Promise.allSettled(batch.map((p) => client.delete(p)));
    for (const r of results) {
      if (r.status === 'fulfilled') deleted++;
      // Gone already (a concurrent delete, an ephemeral's session ending) is what we wanted.
      else if (!(r.reason instanceof KeeperError && r.reason.code === Err.NONODE)) throw r.reason;
    }
  }
  return deleted;
}

// ---- sessions and watches ----

export function sessions(ctx: AdminContext, user: ConsoleUser): Record<string, unknown> {
  requireAdmin(ctx, user);
  const byId = new Map<bigint, string>();
  for (const c of ctx.connections()) if (c.established) byId.set(c.sessionId, `${c.remoteAddress}:${c.remotePort}`);
  const watchCounts = new Map<bigint, number>();
  for (const [link, paths] of ctx.server.watches.pathsByWatcher()) watchCounts.set(link.sessionId, (watchCounts.get(link.sessionId) ?? 0) + paths.length);
  const list = [...ctx.server.sessions.all()].map((s) => {
    const ephemerals = ctx.server.tree.ephemeralsOf(s.id);
    return {
      id: `0x${BigInt.asUintN(64, s.id).toString(16)}`,
      timeoutMs: s.timeoutMs,
      expiresAtMs: s.expiresAtMs,
      remote: byId.get(s.id) ?? null,
      console: s.id === user.client.sessionId,
      ephemeralCount: ephemerals.length,
      ephemerals: ephemerals.slice(0, MAX_LISTED_EPHEMERALS),
      watches: watchCounts.get(s.id) ?? 0,
    };
  });
  return { sessions: list };
}

export function watches(ctx: AdminContext, user: ConsoleUser): Record<string, unknown> {
  requireAdmin(ctx, user);
  const sum = ctx.server.watches.summary();
  const rows = [...ctx.server.watches.watchersByPath()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, MAX_LISTED_WATCH_PATHS)
    .map(([path, links]) => ({ path, sessions: [...new Set(links.map((l) => `0x${BigInt.asUintN(64, l.sessionId).toString(16)}`))] }));
  return { connections: sum.connections, paths: sum.paths, total: sum.total, byPath: rows, truncated: sum.paths > rows.length };
}
