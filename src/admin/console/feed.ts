/**
 * The live feed: server-sent events for every change under a path, from a persistent recursive
 * watch that the caller's own ZooKeeper session adds (so ACLs and the watch limits apply as to
 * any client). A browser that stops reading is cut off once too much is buffered for it.
 */
import type { ServerResponse } from 'node:http';
import type { StreamEvent } from '../../client/index.js';
import { SECURITY_HEADERS } from './http-util.js';
import type { ConsoleUser } from './api.js';

/** Bytes queued for one browser before its feed is closed (it reconnects and re-reads). */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

export interface FeedOptions {
  path: string;
  now: () => number;
  /** Called once the feed has ended, whatever ended it. */
  onEnd: () => void;
}

/** Streams events until the browser goes away; `stop` ends it from this side. */
export async function openFeed(res: ServerResponse, user: ConsoleUser, options: FeedOptions): Promise<{ stop(): void }> {
  let ended = false;
  let keepalive: NodeJS.Timeout | undefined;
  let watch: { remove(): Promise<void> } | null = null;
  const stop = (): void => {
    if (ended) return;
    ended = true;
    clearInterval(keepalive);
    void watch?.remove().catch(() => undefined);
    res.end();
    options.onEnd();
  };
  const send = (event: string, data: Record<string, unknown>): void => {
    if (ended) return;
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    if (res.writableLength > MAX_BUFFERED_BYTES) stop();
  };
  // The response closes when the browser goes away (or the stream ends from this side).
  res.on('close', stop);
  try {
    watch = await user.client.addWatch(options.path, (e: StreamEvent) => send(e.type === 'resync' ? 'resync' : 'change', { ...e, atMs: options.now() }), { recursive: true });
  } catch (err) {
    // Nothing was sent yet: the caller answers with the error.
    ended = true;
    res.off('close', stop);
    options.onEnd();
    throw err;
  }
  if (ended) {
    void watch.remove().catch(() => undefined);
    return { stop };
  }
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
  send('ready', { path: options.path, atMs: options.now() });
  keepalive = setInterval(() => {
    if (!ended) res.write(': keepalive\n\n');
  }, KEEPALIVE_MS);
  keepalive.unref();
  return { stop };
}
