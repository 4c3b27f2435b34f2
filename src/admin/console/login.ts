/**
 * Who may use the console when it is exposed beyond loopback. A login is a digest identity
 * (user:password, as `addauth digest` takes it). It is accepted when the ACL of "/" names that
 * identity (a digest entry for it, with any permission) or when it is the super user: a root
 * ACL that only says world:anyone lets nobody in, so an exposed console is closed until an
 * operator grants someone. Every later operation runs on a ZooKeeper session that added the
 * same auth, so the server checks each node's ACL exactly as for any other client.
 */
import { authenticate } from '../../acl/index.js';
import type { ACL, Id } from '../../jute/records.js';

/** The ids a digest login gives, or null when the text is not user:password. */
export function digestLoginIds(user: string, password: string, superDigest: string | null): Id[] | null {
  if (user === '' || user.includes(':') || password === '') return null;
  return authenticate('digest', Buffer.from(`${user}:${password}`, 'utf8'), superDigest);
}

/** Whether those ids may log in, given the ACL of "/". */
export function loginAllowed(rootAcl: readonly ACL[] | null, ids: readonly Id[]): boolean {
  if (ids.some((id) => id.scheme === 'super')) return true;
  const digests = new Set(ids.filter((id) => id.scheme === 'digest').map((id) => id.id));
  return (rootAcl ?? []).some((entry) => entry.id.scheme === 'digest' && digests.has(entry.id.id) && entry.perms !== 0);
}

/** True for addresses only this host can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (a === 'localhost' || a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** A logged-in browser: its token (the cookie) maps to this. */
export interface Login<T> {
  readonly user: string;
  readonly handle: T;
  lastUsedMs: number;
}

/**
 * Logged-in browsers by token, bounded in count, each dropped after `idleMs` unused. Pure: the
 * caller passes the time, and gets back the handles it must release (their ZooKeeper sessions).
 */
export class LoginTable<T> {
  private readonly byToken = new Map<string, Login<T>>();

  constructor(
    private readonly maxLogins: number,
    private readonly idleMs: number,
  ) {}

  get size(): number {
    return this.byToken.size;
  }

  /** Adds a login, or returns false when the table is full of live ones. */
  add(token: string, user: string, handle: T, nowMs: number): boolean {
    if (this.byToken.size >= this.maxLogins) return false;
    this.byToken.set(token, { user, handle, lastUsedMs: nowMs });
    return true;
  }

  /** The login of a token, touched; undefined when unknown or idle too long (then expire it). */
  use(token: string, nowMs: number): Login<T> | undefined {
    const login = this.byToken.get(token);
    if (login === undefined || nowMs - login.lastUsedMs > this.idleMs) return undefined;
    login.lastUsedMs = nowMs;
    return login;
  }

  remove(token: string): T | undefined {
    const login = this.byToken.get(token);
    this.byToken.delete(token);
    return login?.handle;
  }

  /** Removes the logins idle longer than idleMs; returns their handles. */
  expire(nowMs: number): T[] {
    const gone: T[] = [];
    for (const [token, login] of this.byToken) {
      if (nowMs - login.lastUsedMs <= this.idleMs) continue;
      this.byToken.delete(token);
      gone.push(login.handle);
    }
    return gone;
  }

  removeAll(): T[] {
    const all = [...this.byToken.values()].map((l) => l.handle);
    this.byToken.clear();
    return all;
  }
}
