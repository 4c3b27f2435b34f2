/**
 * `paddock shell` in a pseudo-terminal, driven as a person would (python3's pty module types
 * the keys): tab completion of commands and paths, colour on a terminal, history kept across
 * runs in the history file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPaddock, type PaddockProcess } from '../support/paddock.js';
import { MAIN } from './zkcli.js';

/** Runs argv in a pty and plays steps: send keys, or wait (10 s at most) for text. */
const DRIVER = String.raw`
import json, os, pty, select, subprocess, sys, time
argv, env, steps = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(argv[0], argv, {**os.environ, **env, 'TERM': 'xterm'})
seen, rest = b'', b''
def read_until(want):
    global seen, rest
    deadline = time.time() + 10
    while want.encode() not in rest:
        left = deadline - time.time()
        r = select.select([fd], [], [], max(0, left))[0] if left > 0 else []
        if not r:
            print(json.dumps({'ok': False, 'waiting_for': want, 'seen': seen.decode('utf8', 'replace')}))
            os.kill(pid, 9)
            sys.exit(0)
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b''
        if not chunk:
            time.sleep(0.05)
            continue
        seen += chunk
        rest += chunk
    rest = rest[rest.index(want.encode()) + len(want.encode()):]
for kind, text in steps:
    if kind == 'send':
        os.write(fd, text.encode())
    elif kind == 'exec':
        subprocess.run(json.loads(text), check=True, capture_output=True, timeout=30)
    else:
        read_until(text)
_, status = os.waitpid(pid, 0)
print(json.dumps({'ok': True, 'status': os.waitstatus_to_exitcode(status), 'seen': seen.decode('utf8', 'replace')}))
`;

type Step = ['send' | 'expect' | 'exec', string];

function inPty(argv: string[], env: Record<string, string>, steps: Step[]): Promise<{ ok: boolean; status?: number; seen: string; waiting_for?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', DRIVER, JSON.stringify(argv), JSON.stringify(env), JSON.stringify(steps)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`pty driver printed: ${out}`));
      }
    });
  });
}

function skipUnlessPython(): string | false {
  const missing = existsSync('/usr/bin/python3') ? null : 'python3 is not installed';
  if (missing && process.env.CI) throw new Error(`required under CI: ${missing}`);
  return missing ?? false;
}

describe('paddock shell on a terminal', { skip: skipUnlessPython() }, () => {
  let paddock: PaddockProcess;
  let home: string;
  before(async () => {
    paddock = await startPaddock();
    home = mkdtempSync(join(tmpdir(), 'paddock-shell-home-'));
  });
  after(async () => {
    await paddock?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  test('completion, colour and history across runs', async () => {
    const argv = [process.execPath, MAIN, 'shell', '-server', paddock.connectString];
    const env = { PADDOCK_HISTORY: join(home, 'history') };
    const first = await inPty(argv, env, [
      ['expect', '] '],
      ['send', 'cre\t'],
      ['expect', 'create'],
      ['send', ' /ptynode hello\r'],
      ['expect', 'Created /ptynode'],
      ['expect', '] '],
      ['send', 'get /ptyn\t'],
      ['expect', '/ptynode'],
      ['send', '\r'],
      ['expect', 'hello'],
      ['expect', '] '],
      ['send', 'ls /zoo\t'],
      ['expect', '/zookeeper'],
      ['send', '\r'],
      ['expect', '[config, quota]'],
      ['send', 'get /nothing\r'],
      ['expect', '\x1b[31mNode does not exist: /nothing\x1b[0m'],
      ['expect', '(CONNECTED) 4] '],
      ['send', 'quit\r'],
    ]);
    assert.ok(first.ok, `first run waited for ${JSON.stringify(first.waiting_for)}; saw:\n${first.seen}`);
    assert.equal(first.status, 1, 'quit exits with the status of the failed get before it');
    assert.deepEqual(readFileSync(env.PADDOCK_HISTORY, 'utf8').trim().split('\n'), ['create /ptynode hello', 'get /ptynode', 'ls /zookeeper', 'get /nothing', 'quit']);

    // A new run recalls the previous run's lines with the up arrow.
    const second = await inPty(argv, env, [
      ['expect', '] '],
      ['send', '\x1b[A\x1b[A'],
      ['expect', 'get /nothing'],
      ['send', '\x1b[A\x1b[A'],
      ['expect', 'get /ptynode'],
      ['send', '\r'],
      ['expect', 'hello'],
      ['send', 'quit\r'],
    ]);
    assert.ok(second.ok, `second run waited for ${JSON.stringify(second.waiting_for)}; saw:\n${second.seen}`);
    assert.equal(second.status, 0);
  });

  test('watch streams changes until Ctrl-C, then the prompt is back; tree in colour', async () => {
    const argv = [process.execPath, MAIN, 'shell', '-server', paddock.connectString];
    const other = (...cmd: string[]): string => JSON.stringify([...argv, ...cmd]);
    const r = await inPty(argv, { PADDOCK_HISTORY: join(home, 'history2') }, [
      ['expect', '] '],
      ['send', 'create /watched\r'],
      ['expect', 'Created /watched'],
      ['send', 'watch /watched\r'],
      ['expect', 'Watching /watched'],
      ['exec', other('create', '/watched/child', 'v1')],
      ['expect', 'created /watched/child v1'],
      ['exec', other('set', '/watched/child', 'v2')],
      ['expect', 'dataChanged /watched/child v2'],
      ['send', '\x03'],
      ['expect', '(CONNECTED) 2] '],
      ['send', 'ls /watched\r'],
      ['expect', '[child]'],
      ['send', 'tree /watched\r'],
      ['expect', '\x1b[34m/watched\x1b[0m \x1b[2m(0 B, 1 children)\x1b[0m'],
      ['send', 'quit\r'],
    ]);
    assert.ok(r.ok, `waited for ${JSON.stringify(r.waiting_for)}; saw:\n${r.seen}`);
    assert.equal(r.status, 0);
  });
});
