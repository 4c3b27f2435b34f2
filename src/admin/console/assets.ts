/**
 * The console's page, stylesheet and scripts. The scripts are ./web/*.ts, compiled by the normal
 * build next to this module, so they ship in the package's dist/ with the server.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { SECURITY_HEADERS } from './http-util.js';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Paddock console</title>
<link rel="stylesheet" href="/console/app.css">
<script type="module" src="/console/js/app.js"></script>
</head>
<body>
<header>
  <span class="brand">Paddock</span>
  <nav id="nav">
    <a href="#/tree" data-page="tree">Tree</a>
    <a href="#/sessions" data-page="sessions">Sessions</a>
    <a href="#/watches" data-page="watches">Watches</a>
    <a href="#/feed" data-page="feed">Live feed</a>
    <a href="#/server" data-page="server">Server</a>
  </nav>
  <span id="who"></span>
</header>
<main id="main"><p class="muted">Loading…</p></main>
<div id="toast" class="toast" hidden></div>
</body>
</html>
`;

const STYLE = `
:root { --fg: #1d2330; --muted: #6b7385; --line: #dde1e8; --bg: #f6f7f9; --accent: #2563eb; --bad: #b42318; --ok: #067647; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 20px; background: #111827; color: #fff; }
header .brand { font-weight: 700; letter-spacing: .02em; }
header nav a { color: #cbd5e1; text-decoration: none; margin-right: 16px; }
header nav a.active { color: #fff; border-bottom: 2px solid #60a5fa; }
#who { margin-left: auto; color: #cbd5e1; }
#who button { margin-left: 8px; }
main { padding: 16px 20px; }
h2 { font-size: 16px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.muted { color: var(--muted); }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px; }
.split { display: grid; grid-template-columns: minmax(260px, 360px) 1fr; gap: 16px; align-items: start; }
.tree ul { list-style: none; margin: 0; padding-left: 16px; }
.tree > ul { padding-left: 0; }
.tree li > .row { display: flex; align-items: center; gap: 4px; padding: 1px 4px; border-radius: 4px; cursor: pointer; white-space: nowrap; }
.tree li > .row:hover { background: #eef2ff; }
.tree li > .row.selected { background: #dbeafe; }
.tree .twisty { width: 14px; text-align: center; color: var(--muted); flex: none; }
.tree .count { color: var(--muted); font-size: 12px; }
.tree .eph { color: #9333ea; font-size: 11px; }
.tree .more { color: var(--accent); cursor: pointer; padding: 2px 4px; }
.tree .filter { width: 100%; margin-bottom: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
td.mono, .mono { font-family: ui-monospace, monospace; font-size: 13px; }
textarea { width: 100%; min-height: 180px; font: 13px/1.4 ui-monospace, monospace; }
input, select, button, textarea { font: inherit; }
input, select, textarea { border: 1px solid var(--line); border-radius: 4px; padding: 4px 6px; background: #fff; }
button { border: 1px solid var(--line); border-radius: 4px; padding: 4px 10px; background: #fff; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--bad); border-color: #f3c1bd; }
.toolbar { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
.banner { padding: 8px 10px; border-radius: 4px; margin: 8px 0; }
.banner.error { background: #fef3f2; color: var(--bad); border: 1px solid #fecdca; }
.banner.ok { background: #ecfdf3; color: var(--ok); border: 1px solid #abefc6; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 16px; }
.chart svg { width: 100%; height: 140px; display: block; }
.chart .line { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.chart .area { fill: #dbeafe; stroke: none; }
.chart .axis { stroke: var(--line); }
.chart text { font-size: 10px; fill: var(--muted); }
.chart .now { font-size: 20px; font-weight: 600; }
.feed li { font-family: ui-monospace, monospace; font-size: 13px; padding: 2px 0; border-bottom: 1px solid var(--line); list-style: none; }
.feed ul { padding: 0; margin: 0; max-height: 60vh; overflow: auto; }
.feed .type { display: inline-block; width: 130px; color: var(--accent); }
.login { max-width: 340px; margin: 60px auto; }
.login label { display: block; margin: 8px 0 2px; }
.login input { width: 100%; }
.toast { position: fixed; bottom: 16px; right: 16px; background: #111827; color: #fff; padding: 8px 12px; border-radius: 6px; }
dialog { border: 1px solid var(--line); border-radius: 8px; max-width: 460px; }
`;

const SCRIPT_NAME = /^\/console\/js\/([a-z][a-z-]*\.js)$/;
const scripts = new Map<string, Buffer>();

/** Answers a GET for the page or one of its assets; false when the path is none of them. */
export function serveAsset(pathname: string, res: ServerResponse): boolean {
  if (pathname === '/' || pathname === '/index.html') return send(res, 'text/html; charset=utf-8', PAGE);
  if (pathname === '/console/app.css') return send(res, 'text/css; charset=utf-8', STYLE);
  const m = SCRIPT_NAME.exec(pathname);
  if (m === null) return false;
  const body = script(m[1]!);
  return body !== null && send(res, 'text/javascript; charset=utf-8', body);
}

/** A compiled script of ./web, read once (it cannot change under a running server). */
function script(name: string): Buffer | null {
  const cached = scripts.get(name);
  if (cached !== undefined) return cached;
  try {
    const body = readFileSync(new URL(`./web/${name}`, import.meta.url));
    scripts.set(name, body);
    return body;
  } catch {
    // Not one of ours: a 404 (and not cached, so guessed names cannot grow the map).
    return null;
  }
}

function send(res: ServerResponse, type: string, body: string | Buffer): true {
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  return true;
}
