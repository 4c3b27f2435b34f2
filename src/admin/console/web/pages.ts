/// <reference lib="dom" />
/** The sessions, watches, live feed and server pages. */
import { lineChart } from './chart.js';
import { banner, fill, formatTime, h, table } from './dom.js';
import { apiGet, feedUrl } from './http.js';

interface SessionRow {
  id: string;
  timeoutMs: number;
  expiresAtMs: number;
  remote: string | null;
  console: boolean;
  ephemeralCount: number;
  ephemerals: string[];
  watches: number;
}

export async function sessionsPage(main: HTMLElement): Promise<void> {
  try {
    const { sessions } = await apiGet<{ sessions: SessionRow[] }>('sessions');
    const rows = sessions.map((s) => [
      h('span', { class: 'mono' }, s.id),
      s.console ? 'this console' : (s.remote ?? 'disconnected'),
      `${s.timeoutMs} ms`,
      formatTime(s.expiresAtMs),
      s.watches,
      s.ephemeralCount === 0
        ? h('span', { class: 'muted' }, 'none')
        : h('div', {}, ...s.ephemerals.map((p) => h('div', {}, h('a', { class: 'mono', href: `#/tree?path=${encodeURIComponent(p)}` }, p))), s.ephemeralCount > s.ephemerals.length ? h('div', { class: 'muted' }, `and ${s.ephemeralCount - s.ephemerals.length} more`) : null),
    ]);
    fill(main, h('div', { class: 'panel' }, h('h2', {}, `Sessions (${sessions.length})`), table(['session', 'client', 'timeout', 'expires', 'watches', 'ephemerals'], rows, 'sessions')));
  } catch (err) {
    fill(main, banner('error', (err as Error).message));
  }
}

export async function watchesPage(main: HTMLElement): Promise<void> {
  try {
    const w = await apiGet<{ connections: number; paths: number; total: number; truncated: boolean; byPath: { path: string; sessions: string[] }[] }>('watches');
    fill(
      main,
      h(
        'div',
        { class: 'panel' },
        h('h2', {}, 'Watches'),
        h('p', { 'data-testid': 'watch-summary' }, `${w.total} watches on ${w.paths} paths from ${w.connections} connections`),
        table(['path', 'sessions'], w.byPath.map((r) => [h('span', { class: 'mono' }, r.path), h('span', { class: 'mono' }, r.sessions.join(' '))]), 'watches'),
        w.truncated ? h('p', { class: 'muted' }, 'only the first paths are listed') : null,
      ),
    );
  } catch (err) {
    fill(main, banner('error', (err as Error).message));
  }
}

const MAX_FEED_ROWS = 500;

/** Changes under a path as they happen, over server-sent events; returns a stop function. */
export function feedPage(main: HTMLElement, initialPath: string): () => void {
  const input = h('input', { value: initialPath, 'data-testid': 'feed-path' });
  const status = h('span', { class: 'muted', 'data-testid': 'feed-status' }, 'stopped');
  const list = h('ul', { 'data-testid': 'feed-events' });
  let source: EventSource | null = null;
  const stop = (): void => {
    source?.close();
    source = null;
    status.textContent = 'stopped';
  };
  const add = (type: string, data: { path: string; atMs: number; reason?: string }): void => {
    list.prepend(h('li', { 'data-type': type }, h('span', { class: 'muted' }, formatTime(data.atMs)), ' ', h('span', { class: 'type' }, type), ' ', data.path, data.reason ? ` (${data.reason})` : ''));
    while (list.children.length > MAX_FEED_ROWS) list.lastElementChild?.remove();
  };
  const start = (): void => {
    stop();
    const path = input.value;
    status.textContent = 'connecting…';
    source = new EventSource(feedUrl(path));
    source.addEventListener('ready', () => (status.textContent = `watching ${path} and everything under it`));
    source.addEventListener('change', (e) => {
      const data = JSON.parse((e as MessageEvent<string>).data) as { type: string; path: string; atMs: number };
      add(data.type, data);
    });
    source.addEventListener('resync', (e) => {
      const data = JSON.parse((e as MessageEvent<string>).data) as { path: string; atMs: number; reason: string };
      if (data.reason !== 'initial') add('resync', data);
    });
    source.addEventListener('error', () => (status.textContent = 'disconnected; retrying…'));
  };
  fill(
    main,
    h(
      'div',
      { class: 'panel feed' },
      h('h2', {}, 'Live feed'),
      h('div', { class: 'toolbar' }, h('label', {}, 'Path ', input), h('button', { class: 'primary', 'data-testid': 'feed-start', onclick: start }, 'Watch'), h('button', { onclick: stop }, 'Stop'), status),
      list,
    ),
  );
  start();
  return stop;
}

interface Info {
  mode: string;
  version: string;
  serverId: number;
  clientPort: number;
  lastZxid: string;
  znodeCount: number;
  connections: number;
  sessions: number;
  watches: number;
  ephemerals: number;
  uptimeMs: number;
  /** The ensemble's leader as this server knows it; null standalone or while looking. */
  leaderId: number | null;
  members: { id: number; address: string; type: string; role: string; self: boolean }[];
}
interface Sample {
  atMs: number;
  opsPerSecond: number;
  latencyMs: number;
  connections: number;
}

/** Members and their roles, the server's numbers, and charts refreshed every two seconds. */
export function serverPage(main: HTMLElement): () => void {
  const infoBox = h('div', { class: 'panel' });
  const charts = h('div', { class: 'charts' });
  fill(main, infoBox, h('div', { class: 'panel' }, h('h2', {}, 'Last minutes'), charts));
  const refresh = async (): Promise<void> => {
    try {
      const [info, stats] = await Promise.all([apiGet<Info>('info'), apiGet<{ intervalMs: number; samples: Sample[] }>('stats')]);
      fill(
        infoBox,
        h('h2', {}, 'Members'),
        table(['id', 'address', 'type', 'role'], info.members.map((m) => [m.self ? `${m.id} (this server)` : m.id, h('span', { class: 'mono' }, m.address), m.type, h('strong', { 'data-testid': 'role' }, m.role)]), 'members'),
        h('h3', {}, 'This server'),
        table(
          ['', ''],
          [
            ['mode', info.mode],
            ...(info.leaderId === null ? [] : [['leader', `server ${info.leaderId}`] as [string, string]]),
            ['version', info.version],
            ['last zxid', h('span', { class: 'mono' }, info.lastZxid)],
            ['znodes', info.znodeCount],
            ['connections', info.connections],
            ['sessions', info.sessions],
            ['watches', info.watches],
            ['ephemerals', info.ephemerals],
            ['uptime', `${Math.round(info.uptimeMs / 1000)} s`],
          ],
          'server-info',
        ),
      );
      const end = stats.samples.at(-1)?.atMs ?? Date.now();
      const span = Math.max(60_000, stats.intervalMs * 300);
      const chart = (title: string, unit: string, pick: (s: Sample) => number, testId: string): HTMLElement => {
        const now = stats.samples.at(-1);
        return h('div', { class: 'chart', 'data-testid': testId }, h('div', {}, title), h('div', { class: 'now' }, now ? `${pick(now)} ${unit}` : '–'), lineChart(stats.samples.map((s) => [s.atMs, pick(s)]), end, span));
      };
      fill(charts, chart('Requests', 'ops/s', (s) => s.opsPerSecond, 'chart-ops'), chart('Mean latency', 'ms', (s) => s.latencyMs, 'chart-latency'), chart('Connections', '', (s) => s.connections, 'chart-connections'));
    } catch (err) {
      fill(infoBox, banner('error', (err as Error).message));
    }
  };
  void refresh();
  const timer = window.setInterval(() => void refresh(), 2000);
  return () => window.clearInterval(timer);
}
