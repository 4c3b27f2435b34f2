/**
 * Summarises a V8 .heapsnapshot: count and self size per (node type, constructor name), to see
 * what a znode costs. `node dist/bench/heapsummary.js file.heapsnapshot [top] [perN]`
 * (perN: divide sizes by this many, e.g. the number of znodes).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: (string[] | string)[] }; node_count: number };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  type: string;
  name: string;
  count: number;
  selfBytes: number;
}

export function summarizeHeap(s: Snapshot): { total: number; groups: HeapGroup[] } {
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const groups = new Map<string, HeapGroup>();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!] ?? '?';
    let name = s.strings[s.nodes[i + iName]!] ?? '?';
    // Strings, numbers and code are grouped by type only.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'code' || type === 'hidden') name = '';
    if (type === 'array') name = name.startsWith('(') ? name : '(array)';
    const size = s.nodes[i + iSize]!;
    total += size;
    const key = `${type}\u0000${name}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { type, name, count: 0, selfBytes: 0 }));
    g.count++;
    g.selfBytes += size;
  }
  return { total, groups: [...groups.values()].sort((a, b) => b.selfBytes - a.selfBytes) };
}

export function formatHeap(h: { total: number; groups: HeapGroup[] }, top = 20, perN = 0): string {
  const lines = [
    `heap snapshot: ${(h.total / 2 ** 20).toFixed(1)} MB in ${h.groups.reduce((n, g) => n + g.count, 0)} objects`,
    '',
    perN ? '| type | constructor | count | MB | bytes per znode | objects per znode |' : '| type | constructor | count | MB |',
    perN ? '|:---|:---|---:|---:|---:|---:|' : '|:---|:---|---:|---:|',
  ];
  for (const g of h.groups.slice(0, top)) {
    const base = `| ${g.type} | ${g.name || '-'} | ${g.count} | ${(g.selfBytes / 2 ** 20).toFixed(1)} |`;
    lines.push(perN ? `${base} ${(g.selfBytes / perN).toFixed(1)} | ${(g.count / perN).toFixed(2)} |` : base);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/heapsummary.js file.heapsnapshot [top] [perN]\n');
    process.exit(2);
  }
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  process.stdout.write(formatHeap(summarizeHeap(s), Number(process.argv[3] ?? 25), Number(process.argv[4] ?? 0)) + '\n');
}
