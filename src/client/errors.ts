/**
 * Typed errors. Every failure that ZooKeeper reports, or that the client detects on its behalf
 * (connection loss, session expiry, request timeout), is a {@link KeeperError} carrying the
 * numeric ZooKeeper code; common codes have their own subclass so callers can use `instanceof`.
 */
import { Err, errName } from '../jute/constants.js';

/** Base class of every error the client throws for a ZooKeeper result code. */
export class KeeperError extends Error {
  override name = 'KeeperError';
  /** The ZooKeeper result code (KeeperException.Code), e.g. -101 for NONODE. */
  readonly code: number;
  /** The path the failed call was about, when there is one (without the chroot). */
  readonly path: string | undefined;

  constructor(code: number, path?: string, message?: string, options?: { cause?: unknown }) {
    super(message ?? `${errName(code)}${path === undefined ? '' : ` for ${path}`}`, options);
    this.code = code;
    this.path = path;
  }

  /** The symbolic name of the code, e.g. "NONODE". */
  get codeName(): string {
    return errName(this.code);
  }
}

function sub(code: number, name: string): new (path?: string, message?: string, options?: { cause?: unknown }) => KeeperError {
  const cls = class extends KeeperError {
    override name = name;
    constructor(path?: string, message?: string, options?: { cause?: unknown }) {
      super(code, path, message, options);
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** The connection dropped before the reply arrived: the request may or may not have been applied. */
export class ConnectionLossError extends sub(Err.CONNECTIONLOSS, 'ConnectionLossError') {}
/** The session is gone (told by the server, or detected by the client while cut off). */
export class SessionExpiredError extends sub(Err.SESSIONEXPIRED, 'SessionExpiredError') {}
/** A call's `timeoutMs` elapsed before its reply (code REQUESTTIMEOUT, client-side). */
export class RequestTimeoutError extends sub(Err.REQUESTTIMEOUT, 'RequestTimeoutError') {}
/** One host `connect()` tried: its last failure and how many times it was tried. */
export interface ConnectAttempt {
  /** `host:port` as in the connect string (IPv6 in brackets). */
  readonly host: string;
  /** The failure's code: ECONNREFUSED, ENOTFOUND, ETIMEDOUT (no TCP connection or no handshake reply), ECONNRESET... */
  readonly code: string;
  /** What happened, in words. */
  readonly reason: string;
  /** Attempts made on this host. */
  readonly count: number;
}

/** `connect()` found no server within `initialConnectTimeoutMs`; `attempts` says what each host did. */
export class ConnectFailedError extends RequestTimeoutError {
  override name = 'ConnectFailedError';
  constructor(
    readonly timeoutMs: number,
    readonly attempts: readonly ConnectAttempt[],
  ) {
    const tried = attempts.map((a) => `${a.host}: ${a.code} (${a.reason}${a.count > 1 ? `; ${a.count} attempts` : ''})`);
    super(undefined, `could not connect within ${timeoutMs} ms: ${tried.length > 0 ? tried.join('; ') : 'no attempt finished'}`);
  }
}
export class NoNodeError extends sub(Err.NONODE, 'NoNodeError') {}
export class NodeExistsError extends sub(Err.NODEEXISTS, 'NodeExistsError') {}
export class BadVersionError extends sub(Err.BADVERSION, 'BadVersionError') {}
export class NotEmptyError extends sub(Err.NOTEMPTY, 'NotEmptyError') {}
export class NoAuthError extends sub(Err.NOAUTH, 'NoAuthError') {}
export class AuthFailedError extends sub(Err.AUTHFAILED, 'AuthFailedError') {}
export class BadArgumentsError extends sub(Err.BADARGUMENTS, 'BadArgumentsError') {}
export class InvalidACLError extends sub(Err.INVALIDACL, 'InvalidACLError') {}
export class NoChildrenForEphemeralsError extends sub(Err.NOCHILDRENFOREPHEMERALS, 'NoChildrenForEphemeralsError') {}
export class UnimplementedError extends sub(Err.UNIMPLEMENTED, 'UnimplementedError') {}
export class NoWatcherError extends sub(Err.NOWATCHER, 'NoWatcherError') {}
export class SessionMovedError extends sub(Err.SESSIONMOVED, 'SessionMovedError') {}
export class NotReadOnlyError extends sub(Err.NOTREADONLY, 'NotReadOnlyError') {}
export class MarshallingError extends sub(Err.MARSHALLINGERROR, 'MarshallingError') {}
export class QuotaExceededError extends sub(Err.QUOTAEXCEEDED, 'QuotaExceededError') {}
export class ThrottledOpError extends sub(Err.THROTTLEDOP, 'ThrottledOpError') {}

const byCode = new Map<number, new (path?: string, message?: string) => KeeperError>([
  [Err.CONNECTIONLOSS, ConnectionLossError],
  [Err.SESSIONEXPIRED, SessionExpiredError],
  [Err.REQUESTTIMEOUT, RequestTimeoutError],
  [Err.NONODE, NoNodeError],
  [Err.NODEEXISTS, NodeExistsError],
  [Err.BADVERSION, BadVersionError],
  [Err.NOTEMPTY, NotEmptyError],
  [Err.NOAUTH, NoAuthError],
  [Err.AUTHFAILED, AuthFailedError],
  [Err.BADARGUMENTS, BadArgumentsError],
  [Err.INVALIDACL, InvalidACLError],
  [Err.NOCHILDRENFOREPHEMERALS, NoChildrenForEphemeralsError],
  [Err.UNIMPLEMENTED, UnimplementedError],
  [Err.NOWATCHER, NoWatcherError],
  [Err.SESSIONMOVED, SessionMovedError],
  [Err.NOTREADONLY, NotReadOnlyError],
  [Err.MARSHALLINGERROR, MarshallingError],
  [Err.QUOTAEXCEEDED, QuotaExceededError],
  [Err.THROTTLEDOP, ThrottledOpError],
]);

/** The most specific KeeperError subclass for a code. */
export function keeperError(code: number, path?: string, message?: string): KeeperError {
  const cls = byCode.get(code);
  return cls ? new cls(path, message) : new KeeperError(code, path, message);
}

/** One failed op of a `multi`: `code` is the failing op's code, `results` holds every op's outcome. */
export class TransactionError extends KeeperError {
  override name = 'TransactionError';
  constructor(
    code: number,
    /** Index of the op that failed. */
    readonly failedIndex: number,
    /** Per-op codes: 0 before the failing op, its code, then RUNTIMEINCONSISTENCY (-2). */
    readonly codes: readonly number[],
    path?: string,
  ) {
    super(code, path, `transaction failed at op ${failedIndex}: ${errName(code)}${path ? ` for ${path}` : ''}`);
  }
}

/** The client was closed; no further calls are possible. */
export class ClientClosedError extends Error {
  override name = 'ClientClosedError';
  constructor(message = 'the client is closed') {
    super(message);
  }
}

/** True when `err` is a KeeperError with one of the given codes. */
export function isKeeperError(err: unknown, ...codes: number[]): err is KeeperError {
  return err instanceof KeeperError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * True for failures after which the outcome of a request is unknown and a retry may help:
 * connection loss, request timeout, operation timeout.
 */
export function isRetryable(err: unknown): boolean {
  return isKeeperError(err, Err.CONNECTIONLOSS, Err.REQUESTTIMEOUT, Err.OPERATIONTIMEOUT);
}
