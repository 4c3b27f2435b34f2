/**
 * The 'ip' scheme: ACL ids are `addr[/bits]` for IPv4 or IPv6, matched against the client's
 * address under the prefix mask. Parsing follows ZooKeeper's IPAuthenticationProvider, which
 * is stricter than most parsers (no embedded IPv4 in IPv6, at most 4 hex digits per group).
 */
import { javaParseInt } from './javaish.js';

/** True if the client address `id` lies within the ACL expression `addr[/bits]`. */
export function ipMatches(id: string, aclExpr: string): boolean {
  const [addrPart, bitsPart] = splitOnce(aclExpr, '/');
  const aclAddr = parseAddress(addrPart);
  if (aclAddr === null) return false;
  const bits = bitsPart === null ? aclAddr.length * 8 : prefixBits(bitsPart, aclAddr.length);
  if (bits === null) return false;
  const remote = parseAddress(id);
  if (remote === null || remote.length !== aclAddr.length) return false;
  mask(aclAddr, bits);
  mask(remote, bits);
  return aclAddr.every((b, i) => b === remote[i]);
}

/** True if `expr` is a well-formed ip ACL id. */
export function isValidIpExpression(expr: string): boolean {
  const [addrPart, bitsPart] = splitOnce(expr, '/');
  const addr = parseAddress(addrPart);
  if (addr === null) return false;
  return bitsPart === null || prefixBits(bitsPart, addr.length) !== null;
}

/**
 * The ip auth id for a socket's remote address, as Java's getHostAddress() would print it:
 * IPv4-mapped IPv6 addresses (how Node reports IPv4 clients on a dual-stack socket) become
 * plain IPv4, and an IPv6 zone suffix is dropped.
 */
export function ipAuthId(remoteAddress: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped) return mapped[1]!;
  const zone = remoteAddress.indexOf('%');
  return zone >= 0 ? remoteAddress.substring(0, zone) : remoteAddress;
}

function splitOnce(s: string, sep: string): [string, string | null] {
  const at = s.indexOf(sep);
  return at < 0 ? [s, null] : [s.substring(0, at), s.substring(at + 1)];
}

function prefixBits(text: string, addrBytes: number): number | null {
  const bits = javaParseInt(text, 10);
  return bits === null || bits < 0 || bits > addrBytes * 8 ? null : bits;
}

/** Address bytes, or null when the text is neither IPv4 nor IPv6 as ZooKeeper reads them. */
export function parseAddress(addr: string): number[] | null {
  if (addr.includes(':')) return parseV6(addr);
  if (addr.includes('.')) return parseV4(addr);
  return null;
}

function parseV4(addr: string): number[] | null {
  const parts = addr.split('.');
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    const v = javaParseInt(part, 10);
    if (v === null || v < 0 || v > 255) return null;
    bytes.push(v);
  }
  return bytes;
}

const V6_GROUPS = 8;

function parseV6(addr: string): number[] | null {
  const halves = addr.split('::');
  if (halves.length > 2) return null;
  let head: string[];
  let tail: string[] = [];
  if (halves.length === 1) {
    head = addr.split(':');
    if (head.length !== V6_GROUPS) return null;
  } else {
    head = halves[0] === '' ? [] : halves[0]!.split(':');
    tail = halves[1] === '' ? [] : halves[1]!.split(':');
    if (head.length + tail.length >= V6_GROUPS) return null;
  }
  const bytes = new Array<number>(16).fill(0);
  return writeGroups(bytes, 0, head) && writeGroups(bytes, 16 - tail.length * 2, tail) ? bytes : null;
}

function writeGroups(bytes: number[], at: number, groups: string[]): boolean {
  for (const group of groups) {
    if (group.length === 0 || group.length > 4) return false;
    const v = javaParseInt(group, 16);
    if (v === null) return false;
    bytes[at++] = (v >> 8) & 0xff;
    bytes[at++] = v & 0xff;
  }
  return true;
}

/** Keeps the first `bits` bits and zeroes the rest. */
function mask(bytes: number[], bits: number): void {
  let start = Math.floor(bits / 8);
  let byteMask = ~((1 << (8 - (bits % 8))) - 1) & 0xff;
  for (; start < bytes.length; start++) {
    bytes[start] = bytes[start]! & byteMask;
    byteMask = 0;
  }
}
