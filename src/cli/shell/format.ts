/** zkCli's text formats: Stat lines, Java's Date.toString, ACL lines and ACL parsing. */
import type { ACL, Stat } from '../../client/index.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function zoneName(d: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
  return part?.value ?? 'UTC';
}

/** `Wed Nov 25 22:41:18 UTC 2026`, as java.util.Date#toString prints in the local zone. */
export function javaDate(ms: number): string {
  const d = new Date(ms);
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${pad2(d.getDate())} ${time} ${zoneName(d)} ${d.getFullYear()}`;
}

function hex(n: bigint): string {
  // Java's Long.toHexString prints the two's complement of negative values.
  return '0x' + (n < 0n ? n + (1n << 64n) : n).toString(16);
}

/** The eleven lines zkCli prints for a Stat (`get -s`, `stat`, `ls -s`...). */
export function statLines(s: Stat): string[] {
  return [
    `cZxid = ${hex(s.czxid)}`,
    `ctime = ${javaDate(s.ctime)}`,
    `mZxid = ${hex(s.mzxid)}`,
    `mtime = ${javaDate(s.mtime)}`,
    `pZxid = ${hex(s.pzxid)}`,
    `cversion = ${s.cversion}`,
    `dataVersion = ${s.version}`,
    `aclVersion = ${s.aversion}`,
    `ephemeralOwner = ${hex(s.ephemeralOwner)}`,
    `dataLength = ${s.dataLength}`,
    `numChildren = ${s.numChildren}`,
  ];
}

/** A Stat as plain JSON (zxids as hex strings, times as ms). */
export function statJson(s: Stat): Record<string, string | number> {
  return {
    czxid: hex(s.czxid),
    mzxid: hex(s.mzxid),
    pzxid: hex(s.pzxid),
    ctime: s.ctime,
    mtime: s.mtime,
    version: s.version,
    cversion: s.cversion,
    aversion: s.aversion,
    ephemeralOwner: hex(s.ephemeralOwner),
    dataLength: s.dataLength,
    numChildren: s.numChildren,
  };
}

const PERM_LETTERS: [number, string][] = [[4, 'c'], [8, 'd'], [1, 'r'], [2, 'w'], [16, 'a']];

export function permString(perms: number): string {
  return PERM_LETTERS.filter(([bit]) => (perms & bit) !== 0).map(([, l]) => l).join('');
}

/** zkCli's two lines per ACL entry: `'world,'anyone` then `: cdrwa`. */
export function aclLines(acl: readonly ACL[]): string[] {
  return acl.flatMap((a) => [`'${a.id.scheme},'${a.id.id}`, `: ${permString(a.perms)}`]);
}

/**
 * Parses zkCli's ACL syntax `scheme:id:perms[,...]`; the id may itself contain colons (digest,
 * ip with IPv6). Bad entries are reported through `warn` and skipped, as zkCli does.
 */
export function parseAcl(text: string, warn: (line: string) => void): ACL[] {
  const out: ACL[] = [];
  for (const entry of text.split(',')) {
    const first = entry.indexOf(':');
    const last = entry.lastIndexOf(':');
    if (first < 0 || first === last) {
      warn(`${entry} does not have the form scheme:id:perm`);
      continue;
    }
    out.push({ id: { scheme: entry.slice(0, first), id: entry.slice(first + 1, last) }, perms: parsePerms(entry.slice(last + 1), warn) });
  }
  return out;
}

function parsePerms(text: string, warn: (line: string) => void): number {
  let perms = 0;
  for (const ch of text) {
    const bit = PERM_LETTERS.find(([, l]) => l === ch.toLowerCase());
    if (bit === undefined) {
      warn(`Unknown perm type: ${ch}`);
      continue;
    }
    perms |= bit[0];
  }
  return perms;
}

/** How data looks: JSON (pretty-printed), UTF-8 text, or a hex dump. */
export function describeData(data: Buffer): { kind: 'json' | 'text' | 'hex'; text: string } {
  const text = data.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(data) && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text);
  if (isText) {
    const trimmed = text.trim();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        return { kind: 'json', text: JSON.stringify(JSON.parse(trimmed), null, 2) };
      } catch {
        // Not JSON after all: shown as text.
      }
    }
    return { kind: 'text', text };
  }
  return { kind: 'hex', text: hexDump(data) };
}

export function hexDump(data: Buffer): string {
  const lines: string[] = [];
  for (let off = 0; off < data.length; off += 16) {
    const row = data.subarray(off, off + 16);
    const hexes = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hexes.padEnd(47)}  |${ascii}|`);
  }
  return lines.join('\n');
}
