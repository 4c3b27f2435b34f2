/** Helpers of the admin tests: a Paddock with its HTTP servers on ephemeral ports, JSON shapes. */
import { PROMETHEUS_PROVIDER_CLASS } from '../../src/config/config.js';
import { startPaddock, type PaddockProcess } from '../support/paddock.js';

export async function startPaddockWithAdmin(): Promise<PaddockProcess> {
  return startPaddock({
    adminEnableServer: true,
    adminServerAddress: '127.0.0.1',
    adminServerPort: 0,
    metricsProviderClassName: PROMETHEUS_PROVIDER_CLASS,
    metricsProviderConfig: new Map([['httpHost', '127.0.0.1'], ['httpPort', '0']]),
  });
}

export async function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

export async function getText(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

/**
 * The key structure of a JSON value: objects by their keys (recursively), arrays by the shape of
 * their first element. Values whose keys are data (session ids, paths) are compared by `dataKeys`.
 */
export function shape(value: unknown, dataKeys: ReadonlySet<string> = new Set(), key = ''): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0], dataKeys)];
  if (value === null || typeof value !== 'object') return value === null ? 'null' : typeof value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (dataKeys.has(key)) {
    if (entries.length === 0) return {};
    // ZooKeeper keeps an expiry bucket after its last session moved on, so an empty child says nothing.
    const sample = entries.find(([, v]) => !isEmpty(v)) ?? entries[0]!;
    return { '*': shape(sample[1], dataKeys) };
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, shape(v, dataKeys, k)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
}

function isEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0;
  return value !== null && typeof value === 'object' && Object.keys(value).length === 0;
}

/** The keys of `mntr` output (without the zk_ prefix). */
export function mntrKeys(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.includes('\t'))
    .map((l) => l.slice(0, l.indexOf('\t')).replace(/^zk_/, ''))
    .sort();
}
