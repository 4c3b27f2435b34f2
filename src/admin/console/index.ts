/**
 * The web console, mounted on the admin server at `/`: a page and its scripts (compiled from
 * ./web by the normal build, served from the package), and the JSON API under /console/api/.
 * On a loopback-bound admin server anyone on this host may use it; bound anywhere else, every
 * API call needs a login (see login.ts and docs/console.md).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type ZooKeeperClient } from '../../client/index.js';
import type { AdminContext } from '../commands.js';
import type { Route } from '../http.js';
import * as api from './api.js';
import { serveAsset } from './assets.js';
import { openFeed } from './feed.js';
import { MetricsHistory, type Totals } from './history.js';
import { ApiError, cookieValue, readJsonBody, sendError, sendJson, stringField } from './http-util.js';
import { digestLoginIds, isLoopbackAddress, LoginTable, loginAllowed } from './login.js';

export { isLoopbackAddress } from './login.js';

const COOKIE = 'paddock_console';
const API_PREFIX = '/console/api/';
const MAX_LOGINS = 32;
const LOGIN_IDLE_MS = 30 * 60_000;
const MAX_FEEDS = 32;
/** Failed logins allowed per minute (all browsers together) before logins answer 429: no password guessing at speed. */
const MAX_FAILED_LOGINS_PER_MINUTE = 10;
/** Timeout of each ZooKeeper call the console makes for a browser. */
const CALL_TIMEOUT_MS = 30_000;

export interface ConsoleOptions {
  context: () => AdminContext;
  /** True when the admin server is bound beyond loopback: the API then needs a login. */
  requireLogin: boolean;
  now?: () => number;
  /** Chart resolution; default one sample a second. */
  sampleIntervalMs?: number;
  /** Samples kept; default 600 (ten minutes at one a second). */
  historySize?: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, user: api.ConsoleUser | null) => Promise<unknown>;

export class WebConsole {
  private readonly now: () => number;
  private readonly history: MetricsHistory;
  private readonly sampler: NodeJS.Timeout;
  private readonly logins = new LoginTable<ZooKeeperClient>(MAX_LOGINS, LOGIN_IDLE_MS);
  private readonly childNames = new api.ChildNameCache(16);
  private readonly feeds = new Set<{ stop(): void }>();
  private anonymous: Promise<ZooKeeperClient> | null = null;
  /** Times of recent failed logins, oldest first, at most MAX_FAILED_LOGINS_PER_MINUTE. */
  private readonly failedLogins: number[] = [];
  private closed = false;

  constructor(private readonly options: ConsoleOptions) {
    this.now = options.now ?? Date.now;
    this.history = new MetricsHistory(options.historySize ?? 600);
    this.sample();
    this.sampler = setInterval(() => this.sample(), options.sampleIntervalMs ?? 1000);
    this.sampler.unref();
  }

  /** The route to mount on the admin server: it answers every path the commands do not. */
  route(): Route {
    return { prefix: '/', handle: (req, res, url) => void this.handle(req, res, url) };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sampler);
    for (const feed of [...this.feeds]) feed.stop();
    const clients = this.logins.removeAll();
    const anonymous = this.anonymous;
    this.anonymous = null;
    if (anonymous) clients.push(await anonymous.catch(() => null as unknown as ZooKeeperClient));
    await Promise.all(clients.filter((c) => c !== null).map((c) => c.close().catch(() => undefined)));
  }

  private sample(): void {
    const ctx = this.options.context();
    const stats = ctx.server.stats;
    const reads = stats.summaries.get('readlatency');
    const writes = stats.summaries.get('updatelatency');
    let connections = 0;
    for (const _ of ctx.connections()) connections++;
    const totals: Totals = { requests: (reads?.count ?? 0) + (writes?.count ?? 0), latencySumMs: (reads?.sum ?? 0) + (writes?.sum ?? 0), connections };
    this.history.record(this.now(), totals);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      if (!this.options.requireLogin && !loopbackHost(req.headers.host)) {
        // A loopback console answers only to loopback names, so a web page cannot reach it by rebinding DNS.
        throw new ApiError(403, 'NOAUTH', 'the console answers to localhost only');
      }
      if (!url.pathname.startsWith(API_PREFIX)) {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, 'BADARGUMENTS', 'method not allowed');
        if (!serveAsset(url.pathname, res)) throw new ApiError(404, 'NONODE', `nothing at ${url.pathname}`);
        return;
      }
      await this.handleApi(req, res, url);
    } catch (err) {
      if (res.headersSent) return void res.end();
      sendError(res, api.toApiError(err));
    }
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = url.pathname.slice(API_PREFIX.length);
    const table = req.method === 'POST' ? this.posts : req.method === 'GET' ? this.gets : undefined;
    // Own keys only: a name such as "constructor" must not reach Object's prototype.
    const handler = table !== undefined && Object.hasOwn(table, name) ? table[name] : undefined;
    if (handler === undefined) throw new ApiError(404, 'BADARGUMENTS', `no API ${req.method} ${name}`);
    // A custom header cannot be sent cross-site without a CORS preflight, which this server never grants.
    if (req.method === 'POST' && req.headers['x-paddock-console'] !== '1') throw new ApiError(403, 'NOAUTH', 'missing X-Paddock-Console header');
    const user = name === 'login' || name === 'info' ? await this.userOrNull(req) : await this.user(req);
    const body = await handler(req, res, url, user);
    if (body !== undefined) sendJson(res, 200, body);
  }

  /** The caller: its login, or on a loopback console the shared anonymous session. */
  private async user(req: IncomingMessage): Promise<api.ConsoleUser> {
    const user = await this.userOrNull(req);
    if (user === null) throw new ApiError(401, 'AUTHFAILED', 'log in with a digest user and password');
    return user;
  }

  private async userOrNull(req: IncomingMessage): Promise<api.ConsoleUser | null> {
    if (this.closed) throw new ApiError(503, 'CONNECTIONLOSS', 'the server is shutting down');
    const nowMs = this.now();
    for (const client of this.logins.expire(nowMs)) void client.close();
    const token = cookieValue(req, COOKIE);
    const login = token === undefined ? undefined : this.logins.use(token, nowMs);
    if (login !== undefined) return { name: login.user, client: login.handle };
    if (this.options.requireLogin) return null;
    this.anonymous ??= this.connectClient([]);
    const client = await this.anonymous.catch((err: unknown) => {
      this.anonymous = null;
      throw err;
    });
    return { name: null, client };
  }

  private connectClient(auth: { scheme: string; auth: string }[]): Promise<ZooKeeperClient> {
    const ctx = this.options.context();
    const configured = ctx.config.clientPortAddress;
    const host = !configured || configured === '0.0.0.0' || configured === '::' ? '127.0.0.1' : configured;
    const hostPart = host.includes(':') ? `[${host}]` : host;
    return connect(`${hostPart}:${ctx.listeningPort}`, { auth, requestTimeoutMs: CALL_TIMEOUT_MS, initialConnectTimeoutMs: CALL_TIMEOUT_MS });
  }

  private readonly gets: Record<string, Handler> = {
    info: async (_req, _res, _url, user) => api.info(this.options.context(), user, this.options.requireLogin),
    children: async (_req, _res, url, user) => api.children(this.options.context(), user!, url.searchParams, this.childNames),
    descendants: async (_req, _res, url, user) => api.descendants(this.options.context(), user!, url.searchParams),
    node: async (_req, _res, url, user) => api.readNode(user!, url.searchParams),
    sessions: async (_req, _res, _url, user) => api.sessions(this.options.context(), user!),
    watches: async (_req, _res, _url, user) => api.watches(this.options.context(), user!),
    stats: async () => ({ intervalMs: this.options.sampleIntervalMs ?? 1000, samples: this.history.samples() }),
    feed: async (_req, res, url, user) => {
      const path = api.pathParam(url.searchParams);
      if (this.feeds.size >= MAX_FEEDS) throw new ApiError(503, 'THROTTLEDOP', `${MAX_FEEDS} live feeds are open already`);
      // Held in the set from the start, so a feed that ends at once is still removed.
      const holder = { stop: (): void => undefined };
      this.feeds.add(holder);
      try {
        holder.stop = (await openFeed(res, user!, { path, now: this.now, onEnd: () => this.feeds.delete(holder) })).stop;
      } catch (err) {
        this.feeds.delete(holder);
        throw api.toApiError(err);
      }
      return undefined;
    },
  };

  private readonly posts: Record<string, Handler> = {
    login: async (req, res) => this.login(req, res),
    logout: async (req, res) => {
      const token = cookieValue(req, COOKIE);
      if (token !== undefined) void this.logins.remove(token)?.close();
      sendJson(res, 200, { user: null }, { 'Set-Cookie': `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` });
      return undefined;
    },
    create: async (req, _res, _url, user) => api.createNode(user!, await readJsonBody(req)),
    set: async (req, _res, _url, user) => api.writeNode(user!, await readJsonBody(req)),
    delete: async (req, _res, _url, user) => api.deleteNode(this.options.context(), user!, await readJsonBody(req)),
  };

  /** A digest login: allowed by the root ACL (or super), then a session of its own that adds the same auth. */
  private async login(req: IncomingMessage, res: ServerResponse): Promise<undefined> {
    const body = await readJsonBody(req);
    const user = stringField(body, 'user');
    const password = stringField(body, 'password');
    const ctx = this.options.context();
    const nowMs = this.now();
    while (this.failedLogins.length > 0 && nowMs - this.failedLogins[0]! > 60_000) this.failedLogins.shift();
    if (this.failedLogins.length >= MAX_FAILED_LOGINS_PER_MINUTE) throw new ApiError(429, 'THROTTLEDOP', 'too many failed logins; try again in a minute');
    const ids = digestLoginIds(user, password, ctx.config.superDigest);
    if (ids === null) throw new ApiError(400, 'BADARGUMENTS', 'user and password must be non-empty, and the user without ":"');
    if (!loginAllowed(ctx.server.tree.getNode('/')?.acl ?? null, ids)) {
      this.failedLogins.push(nowMs);
      throw new ApiError(401, 'AUTHFAILED', 'this user is not named in the ACL of / (nor is it the super user)');
    }
    if (this.logins.size >= MAX_LOGINS) throw new ApiError(503, 'THROTTLEDOP', `${MAX_LOGINS} logins are open already`);
    const client = await this.connectClient([{ scheme: 'digest', auth: `${user}:${password}` }]);
    const token = randomBytes(32).toString('base64url');
    if (!this.logins.add(token, user, client, this.now())) {
      await client.close();
      throw new ApiError(503, 'THROTTLEDOP', `${MAX_LOGINS} logins are open already`);
    }
    sendJson(res, 200, { user }, { 'Set-Cookie': `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict` });
    return undefined;
  }
}

/** Whether a Host header names this machine's loopback (localhost, 127.x.y.z, [::1]). */
function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return isLoopbackAddress(name);
}
