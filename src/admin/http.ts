/**
 * The AdminServer: ZooKeeper's HTTP command interface (GET <commandURL>/<name>), on node:http.
 * Requests are routed by path prefix, so more handlers (the web console at `/`) can be mounted on
 * the same listener later without touching the commands.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authorizeAdmin } from './auth.js';
import { ADMIN_COMMANDS, findCommand, type AdminContext } from './commands.js';
import { toJson } from './json.js';
import { isLoopbackAddress, WebConsole } from './console/index.js';

export interface AdminServerOptions {
  address: string;
  port: number;
  /** Path under which commands answer (admin.commandURL). */
  commandUrl: string;
  /** admin.idleTimeout: an idle keep-alive connection is closed after this many ms. */
  idleTimeoutMs: number;
}

/** A handler for requests under a path prefix; the first route whose prefix matches answers. */
export interface Route {
  prefix: string;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): void;
}

export class AdminHttpServer {
  private readonly http: Server;
  private readonly routes: Route[] = [];
  /** The web console: answers every path no other route takes (see src/admin/console/). */
  readonly console: WebConsole;
  private readonly consoleRoute: Route;
  port = 0;
  host = '';

  constructor(
    private readonly options: AdminServerOptions,
    /** What the commands and the console read (kept public so a console can be mounted elsewhere). */
    readonly context: () => AdminContext,
  ) {
    this.routes.push(commandRoute(normalisePrefix(options.commandUrl), context));
    this.console = new WebConsole({ context, requireLogin: !isLoopbackAddress(options.address) });
    this.consoleRoute = this.console.route();
    this.http = createServer((req, res) => this.dispatch(req, res));
    this.http.keepAliveTimeout = options.idleTimeoutMs;
    this.http.requestTimeout = Math.max(options.idleTimeoutMs, 1000);
  }

  /** Mounts another handler (longest prefixes should be added first). */
  addRoute(route: Route): void {
    this.routes.push(route);
  }

  listen(): Promise<void> {
    return listenOn(this.http, this.options.port, this.options.address).then((addr) => {
      this.port = addr.port;
      this.host = addr.address;
    });
  }

  async close(): Promise<void> {
    await this.console.close();
    await closeServer(this.http);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const route = this.routes.find((r) => url.pathname === r.prefix || url.pathname.startsWith(r.prefix.endsWith('/') ? r.prefix : `${r.prefix}/`)) ?? this.consoleRoute;
    try {
      route.handle(req, res, url);
    } catch (err) {
      sendText(res, 500, 'text/plain', `internal error: ${(err as Error).message}\n`);
    }
  }
}

function normalisePrefix(url: string): string {
  const withSlash = url.startsWith('/') ? url : `/${url}`;
  return withSlash.length > 1 && withSlash.endsWith('/') ? withSlash.slice(0, -1) : withSlash;
}

function commandRoute(prefix: string, context: () => AdminContext): Route {
  return {
    prefix,
    handle(req, res, url) {
      // ZooKeeper 3.8's AdminServer answers GET only.
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'text/plain', 'HTTP method not allowed\n');
      const rest = url.pathname.slice(prefix.length).replace(/^\/+/, '');
      if (rest === '') return sendText(res, 200, 'text/html', commandIndex(prefix));
      const name = decodeURIComponent(rest);
      const cmd = findCommand(name);
      if (!cmd) return sendJson(res, { command: name, error: `Unknown command: ${name}` });
      const ctx = context();
      if (cmd.sensitive) {
        const auth = authorizeAdmin({
          rootAcl: ctx.server.tree.getNode('/')?.acl ?? null,
          header: req.headers.authorization,
          remoteAddress: req.socket.remoteAddress ?? '',
          superDigest: ctx.config.superDigest,
          skipACL: ctx.config.skipACL,
        });
        if (!auth.ok) return sendJson(res, { command: cmd.name, error: auth.error }, auth.status);
      }
      const result = cmd.run(ctx, url.searchParams);
      const { error, ...fields } = result;
      // ZooKeeper's key order: the command's own keys, then "command" and "error".
      sendJson(res, error === undefined ? { ...fields, command: cmd.name, error: null } : { ...fields, error, command: cmd.name });
    },
  };
}

function commandIndex(prefix: string): string {
  const names = ADMIN_COMMANDS.map((c) => c.name).sort();
  return names.map((n) => `<a href="${prefix}/${n}">${n}</a>\n<br/>\n`).join('');
}

function sendJson(res: ServerResponse, body: Record<string, unknown>, status = 200): void {
  sendText(res, status, 'application/json', toJson(body));
}

export function sendText(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
