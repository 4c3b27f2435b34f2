/**
 * The report of a run: a summary (ops, faults, violations) and a self-contained HTML page with
 * an SVG timeline (one row per client, ops coloured by outcome, fault windows shaded) and
 * latency over time, so a person sees at a glance what a partition did. Pure.
 */
import type { Verdict } from './check.js';
import type { History, Op } from './history.js';

export interface Summary {
  result: Verdict['result'];
  target: string;
  servers: number;
  seed: number;
  mode: string;
  notes: string[];
  schedule: string[];
  ops: { total: number; ok: number; fail: number; info: number; byKind: Record<string, { ok: number; fail: number; info: number }> };
  faults: { name: string; targets: number[]; startS: number; endS: number | null; detail?: string }[];
  linearizability: { key: string; result: string; ops: number; detail?: string }[];
  violations: { checker: string; message: string }[];
}

export function summarize(history: History, verdict: Verdict, run: { target: string; servers: number; seed: number; mode: string; notes: string[]; schedule: string[] }): Summary {
  const byKind: Summary['ops']['byKind'] = {};
  const totals = { ok: 0, fail: 0, info: 0 };
  for (const op of history.ops) {
    const k = (byKind[op.kind] ??= { ok: 0, fail: 0, info: 0 });
    k[op.outcome]++;
    totals[op.outcome]++;
  }
  return {
    result: verdict.result,
    ...run,
    ops: { total: history.ops.length, ...totals, byKind },
    faults: history.faults.map((f) => ({
      name: f.name,
      targets: f.targets,
      startS: round(f.startMs / 1000),
      endS: f.endMs === null ? null : round(f.endMs / 1000),
      ...(f.detail ? { detail: f.detail } : {}),
    })),
    linearizability: verdict.linearizability.keys.map((k) => ({
      key: k.key,
      result: k.result,
      ops: k.ops,
      ...(k.result === 'violation' ? { detail: k.message } : k.result === 'unknown' ? { detail: k.reason } : {}),
    })),
    violations: verdict.violations.map((v) => ({ checker: v.checker, message: v.message })),
  };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

const COLOURS = { ok: '#2e7d32', fail: '#ef6c00', info: '#c62828' };
const WIDTH = 1100;
const LEFT = 150;

function timeline(history: History, endMs: number): string {
  const clients = [...new Set(history.ops.map((op) => op.client))].sort((a, b) => a - b);
  const rowH = 14;
  const height = 30 + clients.length * rowH;
  const x = (ms: number): number => LEFT + ((WIDTH - LEFT - 10) * Math.min(ms, endMs)) / Math.max(1, endMs);
  const parts: string[] = [];
  for (const f of history.faults) {
    const x0 = x(f.startMs);
    const x1 = x(f.endMs ?? endMs);
    parts.push(`<rect x="${x0}" y="0" width="${Math.max(1, x1 - x0)}" height="${height}" fill="#90a4ae" opacity="0.3"><title>${esc(`${f.name} on s${f.targets.join(',s')}: ${f.detail ?? ''}`)}</title></rect>`);
    parts.push(`<text x="${x0 + 2}" y="10" font-size="9">${esc(`${f.name} s${f.targets.join(',')}`)}</text>`);
  }
  clients.forEach((c, row) => {
    const y = 20 + row * rowH;
    parts.push(`<text x="4" y="${y + 9}" font-size="10">${esc(c >= 1_000_000 ? 'final reads' : `${c} ${history.clients?.[c] ?? ''}`)}</text>`);
    for (const op of history.ops) {
      if (op.client !== c) continue;
      const x0 = x(op.invokeMs);
      const x1 = x(op.completeMs ?? Math.min(endMs, op.invokeMs + 5000));
      parts.push(`<rect x="${x0}" y="${y}" width="${Math.max(1, x1 - x0)}" height="${rowH - 4}" fill="${COLOURS[op.outcome]}"><title>${esc(title(op))}</title></rect>`);
    }
  });
  const ticks = Array.from({ length: Math.floor(endMs / 10_000) + 1 }, (_, i) => i * 10_000);
  for (const t of ticks) parts.push(`<text x="${x(t)}" y="${height + 12}" font-size="9">${t / 1000}s</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height + 16}">${parts.join('')}</svg>`;
}

function latency(history: History, endMs: number): string {
  const height = 160;
  const done = history.ops.filter((op) => op.completeMs !== null);
  const maxMs = Math.max(10, ...done.map((op) => (op.completeMs as number) - op.invokeMs));
  const x = (ms: number): number => LEFT + ((WIDTH - LEFT - 10) * ms) / Math.max(1, endMs);
  // Log scale: a 5 ms write and a 5 s stall both stay visible.
  const y = (ms: number): number => height - 10 - ((height - 20) * Math.log10(1 + ms)) / Math.log10(1 + maxMs);
  const parts: string[] = [];
  for (const f of history.faults) parts.push(`<rect x="${x(f.startMs)}" y="0" width="${Math.max(1, x(f.endMs ?? endMs) - x(f.startMs))}" height="${height}" fill="#90a4ae" opacity="0.3"/>`);
  for (const op of done) parts.push(`<circle cx="${x(op.invokeMs)}" cy="${y((op.completeMs as number) - op.invokeMs)}" r="1.5" fill="${COLOURS[op.outcome]}"/>`);
  for (const ms of [1, 10, 100, 1000, 10_000].filter((m) => m <= maxMs * 1.5)) parts.push(`<text x="4" y="${y(ms)}" font-size="9">${ms} ms</text>`);
  for (const op of history.ops.filter((o) => o.completeMs === null)) parts.push(`<line x1="${x(op.invokeMs)}" x2="${x(op.invokeMs)}" y1="${height - 8}" y2="${height}" stroke="${COLOURS.info}"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}">${parts.join('')}</svg>`;
}

function title(op: Op): string {
  const bits = [`#${op.index} ${op.kind} ${op.key}`, op.outcome + (op.error ? ` ${op.error}` : '')];
  if (op.value !== undefined) bits.push(`value ${op.value}`);
  if (op.readValue !== undefined) bits.push(`read ${op.readValue}`);
  if (op.version !== undefined) bits.push(`v${op.version}`);
  if (op.created !== undefined) bits.push(op.created);
  if (op.server !== undefined) bits.push(`via ${op.server}`);
  return bits.join(' · ');
}

export function renderReport(history: History, summary: Summary): string {
  const endMs = Math.max(1, ...history.ops.map((op) => op.completeMs ?? op.invokeMs), ...history.faults.map((f) => f.endMs ?? 0));
  const rows = Object.entries(summary.ops.byKind)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v.ok}</td><td>${v.fail}</td><td>${v.info}</td></tr>`)
    .join('');
  const violations = summary.violations.length === 0 ? '<p>None.</p>' : `<ul>${summary.violations.map((v) => `<li><b>${esc(v.checker)}</b>: ${esc(v.message)}</li>`).join('')}</ul>`;
  const lin = summary.linearizability.map((k) => `<li>${esc(k.key)}: ${esc(k.result)} (${k.ops} ops)${k.detail ? ` ${esc(k.detail)}` : ''}</li>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Fault run: ${esc(summary.result)}</title>
<style>body{font-family:sans-serif;margin:1em}td,th{padding:2px 8px;text-align:right}td:first-child{text-align:left}</style></head><body>
<h1>Fault run against ${summary.servers} ${esc(summary.target)} server(s): ${esc(summary.result.toUpperCase())}</h1>
<p>seed ${summary.seed}, network ${esc(summary.mode)}. ${summary.notes.map(esc).join(' ')}</p>
<h2>Timeline</h2><p>One row per client; green ok, orange failed (definite), red unknown (timed out / connection lost). Grey bands: faults (hover for detail).</p>
${timeline(history, endMs)}
<h2>Latency over time (log scale)</h2>${latency(history, endMs)}
<h2>Violations</h2>${violations}
<h2>Linearizability</h2><ul>${lin}</ul>
<h2>Operations</h2><table><tr><th>kind</th><th>ok</th><th>fail</th><th>info</th></tr>${rows}</table>
<h2>Faults</h2><ul>${summary.faults.map((f) => `<li>${f.startS}s–${f.endS ?? '?'}s ${esc(f.name)} on s${f.targets.join(',s')}: ${esc(f.detail ?? '')}</li>`).join('')}</ul>
</body></html>
`;
}
