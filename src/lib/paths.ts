/**
 * Znode path rules, matching ZooKeeper's PathUtils.validatePath character for character: the
 * checks run on UTF-16 code units, so every surrogate (every non-BMP character) is rejected.
 */

/** Null when the path is valid, else the reason (worded as ZooKeeper words it). */
export function validatePath(path: string, isSequential = false): string | null {
  // A sequential path gets a numeric suffix, so it may end in '/'.
  return checkPath(isSequential ? path + '1' : path);
}

function checkPath(path: string): string | null {
  if (path.length === 0) return 'Path length must be > 0';
  if (path.charCodeAt(0) !== SLASH) return 'Path must start with / character';
  if (path.length === 1) return null;
  if (path.charCodeAt(path.length - 1) === SLASH) return 'Path must not end with / character';
  const reason = firstBadChar(path);
  return reason === null ? null : `Invalid path string "${path}" caused by ${reason}`;
}

const SLASH = 0x2f;
const DOT = 0x2e;

function firstBadChar(path: string): string | null {
  let last = SLASH;
  for (let i = 1; i < path.length; last = path.charCodeAt(i), i++) {
    const c = path.charCodeAt(i);
    if (c === 0) return `null character not allowed @${i}`;
    if (c === SLASH && last === SLASH) return `empty node name specified @${i}`;
    if (c === DOT && last === DOT) {
      if (path.charCodeAt(i - 2) === SLASH && endsSegment(path, i)) return `relative paths not allowed @${i}`;
    } else if (c === DOT) {
      if (path.charCodeAt(i - 1) === SLASH && endsSegment(path, i)) return `relative paths not allowed @${i}`;
    } else if (isForbiddenChar(c)) {
      return `invalid character @${i}`;
    }
  }
  return null;
}

function endsSegment(path: string, i: number): boolean {
  return i + 1 === path.length || path.charCodeAt(i + 1) === SLASH;
}

function isForbiddenChar(c: number): boolean {
  return (
    (c > 0x0000 && c <= 0x001f) ||
    (c >= 0x007f && c <= 0x009f) ||
    (c >= 0xd800 && c <= 0xf8ff) ||
    (c >= 0xfff0 && c <= 0xffff)
  );
}

/**
 * The parent of a path: '/' for a top-level node and for '/' itself (as Curator's ZKPaths
 * answers; callers that walk up to the root stop at '/').
 */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.substring(0, slash);
}

/** The last segment of a path ('' for '/'). */
export function basename(path: string): string {
  return path.substring(path.lastIndexOf('/') + 1);
}

/** Joins a parent path and a child name. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? '/' + name : parent + '/' + name;
}
