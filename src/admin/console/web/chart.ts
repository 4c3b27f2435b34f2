/// <reference lib="dom" />
/** A small inline SVG line chart: no chart library for three sparklines. */

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 300;
const HEIGHT = 120;
const PAD_LEFT = 34;
const PAD_BOTTOM = 14;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A rounded-up axis maximum (1, 2, 5 times a power of ten), so the scale reads easily. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function label(value: number): string {
  return value >= 1000 ? `${Math.round(value / 100) / 10}k` : String(Math.round(value * 100) / 100);
}

/** Points (time ms, value) over `spanMs` ending at `endMs`, as an SVG with axes and an area. */
export function lineChart(points: [number, number][], endMs: number, spanMs: number): SVGSVGElement {
  const root = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img' });
  const max = niceMax(Math.max(0, ...points.map(([, v]) => v)));
  const plotW = WIDTH - PAD_LEFT;
  const plotH = HEIGHT - PAD_BOTTOM;
  const x = (t: number): number => PAD_LEFT + Math.max(0, Math.min(1, 1 - (endMs - t) / spanMs)) * plotW;
  const y = (v: number): number => plotH - (v / max) * (plotH - 4);
  root.append(svg('line', { class: 'axis', x1: PAD_LEFT, y1: plotH, x2: WIDTH, y2: plotH }), svg('line', { class: 'axis', x1: PAD_LEFT, y1: 0, x2: PAD_LEFT, y2: plotH }));
  root.append(svg('text', { x: 2, y: 10 }, label(max)), svg('text', { x: 2, y: plotH }, '0'));
  root.append(svg('text', { x: PAD_LEFT, y: HEIGHT - 2 }, `-${Math.round(spanMs / 60000)} min`), svg('text', { x: WIDTH - 24, y: HEIGHT - 2 }, 'now'));
  if (points.length > 1) {
    const line = points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const first = x(points[0]![0]).toFixed(1);
    const last = x(points[points.length - 1]![0]).toFixed(1);
    root.append(svg('polygon', { class: 'area', points: `${first},${plotH} ${line} ${last},${plotH}` }), svg('polyline', { class: 'line', points: line }));
  }
  return root;
}
