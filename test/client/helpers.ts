/**
 * Helpers for client and recipe tests: unique paths, event waits with timeouts, session kill.
 * Every wait here is on an event (a session event, a watch, a reply) bounded by a timeout; none
 * polls or sleeps.
 */
import { randomUUID } from 'node:crypto';
import { connect, type ClientOptions, type SessionEvent, type ZooKeeperClient } from '../../src/client/index.js';

let counter = 0;
/** A fresh top-level path per test, so tests on one server never see each other's nodes. */
export function uniquePath(prefix = 't'): string {
  return `/${prefix}-${process.pid}-${++counter}-${randomUUID().slice(0, 8)}`;
}

/** Short sessions keep expiry tests fast; the test servers tick every 200 ms (sessions 0.4-4 s). */
export const FAST: ClientOptions = { sessionTimeoutMs: 2000, reconnectBackoff: { initialMs: 20, maxMs: 200 } };

export async function client(connectString: string, options: ClientOptions = {}): Promise<ZooKeeperClient> {
  return connect(connectString, { ...FAST, initialConnectTimeoutMs: 20_000, ...options });
}

/** Resolves with the first session event matching `pred`, or rejects after `timeoutMs`. */
export function nextSessionEvent(
  zk: ZooKeeperClient,
  pred: (e: SessionEvent) => boolean,
  timeoutMs = 15_000,
): Promise<SessionEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching session event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = zk.onSession((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** Rejects if `promise` does not settle within `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]);
}

/** Each attempt ends on a server answer or a closed connection, so a few suffice; bounded anyway. */
const MAX_KILL_ATTEMPTS = 50;

/**
 * Expires `zk`'s session from the server's side: a second connection attaches to the same
 * session id and password and closes it (the technique of Curator's KillSession), which works
 * against any ZooKeeper-compatible server.
 */
export async function killSession(zk: ZooKeeperClient, connectString: string, timeoutMs = 20_000): Promise<void> {
  const id = zk.sessionId;
  const passwd = zk.sessionPassword;
  if (id === null || passwd === null) throw new Error('no session to kill');
  const { killSessionById } = await import('./kill-session.js');
  // The victim may re-attach to its session before the close lands (that interrupts us), so
  // try again, a bounded number of times, until the server confirms; then wait for the victim
  // itself to report the expiry.
  let expired = false;
  const seen = nextSessionEvent(zk, (e) => e.type === 'expired' && e.sessionId === id, timeoutMs).then(() => {
    expired = true;
  });
  seen.catch(() => {}); // awaited below; this only keeps a timeout during the attempts from going unhandled
  for (let attempt = 0; attempt < MAX_KILL_ATTEMPTS && !expired; attempt++) {
    if (await killSessionById(connectString, id, passwd)) break;
  }
  await seen;
}

/** Waits, with child watches, until the children of `path` satisfy `pred`; returns them. */
export async function waitForChildren(
  zk: ZooKeeperClient,
  path: string,
  pred: (children: string[]) => boolean,
  timeoutMs = 15_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let children: string[] = [];
    let changed: Promise<unknown>;
    try {
      const res = await zk.getChildrenAndWatch(path);
      children = res.children;
      changed = res.changed;
    } catch {
      changed = zk.existsAndWatch(path).then((r) => (r.stat ? undefined : r.changed));
    }
    if (pred(children)) return children;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`children of ${path} never matched: ${children.join(',')}`);
    await within(changed, left, `children of ${path}`);
  }
}
