/** Helpers of the console tests: a Paddock with its admin server (and so the console) on loopback. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebConsole } from '../../src/admin/console/index.js';
import { startPaddock, type PaddockProcess } from '../support/paddock.js';

export async function startPaddockWithConsole(): Promise<PaddockProcess & { base: string }> {
  const p = await startPaddock({ adminEnableServer: true, adminServerAddress: '127.0.0.1', adminServerPort: 0 });
  return { ...p, base: `http://127.0.0.1:${p.server.admin!.port}` };
}

/**
 * A second console over the same server that requires a login, as one on a non-loopback address
 * does, but served on loopback: tests must not listen beyond this host.
 */
export async function startLoginConsole(p: PaddockProcess): Promise<{ base: string; close(): Promise<void> }> {
  const console = new WebConsole({ context: p.server.admin!.context, requireLogin: true });
  const route = console.route();
  const http: Server = createServer((req, res) => route.handle(req, res, new URL(req.url ?? '/', 'http://console')));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: async () => {
      await console.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** A console API call as the page makes it (POSTs carry the console's header and a JSON body). */
export async function api(base: string, name: string, options: { body?: Record<string, unknown>; query?: Record<string, string>; cookie?: string; header?: boolean; host?: string } = {}): Promise<Answer> {
  const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
  const headers: Record<string, string> = {};
  if (options.cookie) headers.cookie = options.cookie;
  if (options.host) headers.host = options.host;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    if (options.header !== false) headers['x-paddock-console'] = '1';
  }
  const res = await fetch(`${base}/console/api/${name}${query}`, {
    method: options.body === undefined ? 'GET' : 'POST',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

export const b64 = (text: string): string => Buffer.from(text).toString('base64');
