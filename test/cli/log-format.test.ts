/** `paddock server --log-format json`: every line on standard error is one JSON object. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/server/logger.js';
import { freePort } from '../support/ports.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('the JSON logger writes time, level, logger, msg and fields; bigints as strings; levels filter', () => {
  const lines: string[] = [];
  const log = createLogger('server', { format: 'json', level: 'info', sink: (l) => lines.push(l), now: () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)) });
  log.debug('not shown');
  log.info('session created', { sessionId: 0x1234567890abcdefn, timeoutMs: 30000 });
  log.warn('plain "quoted"\nline');
  assert.equal(lines.length, 2);
  assert.deepEqual(JSON.parse(lines[0]!), { time: '2026-01-02T03:04:05.006Z', level: 'info', logger: 'server', msg: 'session created', fields: { sessionId: '1311768467294899695', timeoutMs: 30000 } });
  assert.deepEqual(JSON.parse(lines[1]!), { time: '2026-01-02T03:04:05.006Z', level: 'warn', logger: 'server', msg: 'plain "quoted"\nline', fields: {} });
  assert.ok(!lines[1]!.includes('\n'), 'a message with a newline stays on one line');

  const text: string[] = [];
  createLogger('server', { format: 'text', level: 'debug', sink: (l) => text.push(l), now: () => new Date(0) }).info('hello', { a: 1 });
  assert.deepEqual(text, ['1970-01-01T00:00:00.000Z INFO  [server] hello a=1']);
});

test('paddock server --log-format json logs JSON lines from start to shutdown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-logjson-'));
  try {
    const port = await freePort();
    const data = join(dir, 'data');
    mkdirSync(data);
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(cfg, `dataDir=${data}\nclientPort=${port}\nclientPortAddress=127.0.0.1\nunknownKey=1\n`);
    const child = spawn(process.execPath, [MAIN, 'server', cfg, '--log-format', 'json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PADDOCK_LOG_LEVEL: 'info' } });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 20 s: ${stderr}`)), 20_000);
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        if (stderr.includes('Paddock listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    const lines = stderr.trimEnd().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const entry of parsed) {
      assert.deepEqual(Object.keys(entry), ['time', 'level', 'logger', 'msg', 'fields']);
      assert.match(entry.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    assert.ok(parsed.some((e) => e.level === 'warn' && e.logger === 'cli' && String(e.msg).includes('unknownKey')), stderr);
    assert.ok(parsed.some((e) => e.logger === 'server' && String(e.msg).startsWith(`Paddock listening on 127.0.0.1:${port}`)), stderr);
    assert.ok(parsed.some((e) => e.logger === 'cli' && e.msg === 'SIGTERM received, shutting down'), stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown --log-format is a usage error', () => {
  const r = spawnSync(process.execPath, [MAIN, 'server', '--log-format', 'xml'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^paddock server: --log-format must be text or json, not 'xml'\n/);
});
