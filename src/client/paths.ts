/** Connection strings, chroot prefixing and client-side path checks. */
import { basename, childPath, parentOf, validatePath as checkPath } from '../lib/paths.js';
import { BadArgumentsError } from './errors.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface ParsedConnectString {
  hosts: HostPort[];
  /** "" when there is no chroot, else "/app" (no trailing slash). */
  chroot: string;
}

/**
 * Parses `host1:2181,host2:2182,[::1]:2183/app/chroot`. A missing port means 2181.
 * Throws BadArgumentsError on anything malformed.
 */
export function parseConnectString(input: string): ParsedConnectString {
  const slash = input.indexOf('/');
  const hostPart = slash === -1 ? input : input.slice(0, slash);
  let chroot = slash === -1 ? '' : input.slice(slash);
  if (chroot === '/') chroot = '';
  if (chroot !== '') validatePath(chroot);
  const hosts: HostPort[] = [];
  for (const raw of hostPart.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    let host: string;
    let portText: string | undefined;
    if (item.startsWith('[')) {
      const close = item.indexOf(']');
      if (close === -1) throw new BadArgumentsError(undefined, `bad host in connect string: ${item}`);
      host = item.slice(1, close);
      const rest = item.slice(close + 1);
      if (rest !== '' && !rest.startsWith(':')) throw new BadArgumentsError(undefined, `bad host: ${item}`);
      portText = rest === '' ? undefined : rest.slice(1);
    } else {
      const colon = item.lastIndexOf(':');
      host = colon === -1 ? item : item.slice(0, colon);
      portText = colon === -1 ? undefined : item.slice(colon + 1);
    }
    const port = portText === undefined ? 2181 : Number(portText);
    if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new BadArgumentsError(undefined, `bad host in connect string: ${item}`);
    }
    hosts.push({ host, port });
  }
  if (hosts.length === 0) throw new BadArgumentsError(undefined, `no hosts in connect string "${input}"`);
  return { hosts, chroot };
}

/** ZooKeeper's path rules (PathUtils.validatePath). `sequential` allows a trailing '/'. */
export function validatePath(path: string, sequential = false): void {
  const reason = typeof path === 'string' ? checkPath(path, sequential) : 'Path must be a string';
  if (reason !== null) throw new BadArgumentsError(path, reason);
}

/** Joins a parent and a child name: join('/', 'a') = '/a', join('/x', 'a') = '/x/a'. */
export function joinPath(parent: string, child: string): string {
  return childPath(parent, child);
}

/** The parent of a path ('/' for top-level nodes). */
export function parentPath(path: string): string {
  return parentOf(path);
}

/** The last segment of a path. */
export function baseName(path: string): string {
  return basename(path);
}

export function prependChroot(chroot: string, path: string): string {
  if (chroot === '') return path;
  return path === '/' ? chroot : chroot + path;
}

/** Strips the chroot from a server path; paths outside the chroot are returned unchanged. */
export function stripChroot(chroot: string, path: string): string {
  if (chroot === '') return path;
  if (path === chroot) return '/';
  if (path.startsWith(chroot + '/')) return path.slice(chroot.length);
  return path;
}
