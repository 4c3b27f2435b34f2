/** A Python kazoo process and TypeScript recipes sharing one lock path and one counter. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Mutex, SharedCounter } from '../../src/recipes/index.js';
import { forEachTarget, it } from '../client/targets.js';
import { client, uniquePath, within } from '../client/helpers.js';

const PYTHON = '/usr/bin/python3';
const peer = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'recipes', 'kazoo_peer.py');
const kazooMissing = existsSync('/usr/lib/python3/dist-packages/kazoo/__init__.py') ? null : 'python3-kazoo is not installed';

/** Runs the kazoo peer; `onLine` sees each output line and may answer on stdin. */
function kazoo(args: string[], onLine: (line: string, write: (s: string) => void) => void = () => {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [peer, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        onLine(line, (s) => child.stdin.write(s));
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(lines) : reject(new Error(`kazoo peer exited ${code}: ${err}`))));
  });
}

forEachTarget('interoperability with kazoo', ({ server }) => {
  if (kazooMissing) return;
  it('a TypeScript Mutex and a kazoo Lock exclude each other on one path', async () => {
    await using zk = await client(server().connectString);
    const path = uniquePath('interop-lock');
    const mutex = new Mutex(zk, path);
    const held = await mutex.acquire();
    assert.deepEqual(await kazoo([server().connectString, 'lock-try', path, '1.0']), ['acquired False']);
    await held.release();
    assert.deepEqual(await kazoo([server().connectString, 'lock-try', path, '5.0']), ['acquired True']);
    let checked!: Promise<void>;
    await within(
      kazoo([server().connectString, 'lock-hold', path], (line, write) => {
        if (line !== 'held') return;
        checked = (async () => {
          assert.equal(await new Mutex(zk, path).tryAcquire(), null, 'kazoo holds it');
          write('\n');
        })();
      }),
      30_000,
      'kazoo holder',
    );
    await checked;
    const after = await new Mutex(zk, path).tryAcquire();
    assert.ok(after);
    await after.release();
  });

  it('SharedCounter and kazoo Counter(support_curator=True) share a value', async () => {
    await using zk = await client(server().connectString);
    const path = uniquePath('interop-counter');
    const counter = new SharedCounter(zk, path);
    await counter.add(10);
    assert.deepEqual(await kazoo([server().connectString, 'counter-add', path, '5']), ['value 15']);
    assert.equal((await counter.get()).value, 15n);
  });
});
