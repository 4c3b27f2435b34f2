/** Invariant assertions stay on in production: a broken invariant must stop, not corrupt data. */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

/** `message` may be a function, so hot paths do not format a message that is almost never used. */
export function assert(condition: unknown, message: string | (() => string) = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(typeof message === 'function' ? message() : message);
}

export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
