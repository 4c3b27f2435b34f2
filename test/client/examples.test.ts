/** The examples run against each target and must exit 0 with their expected output. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forEachTarget, it } from './targets.js';

const examples = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');

function run(file: string, connectString: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(examples, file)], { env: { ...process.env, ZK_CONNECT: connectString }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

forEachTarget('examples', ({ server }) => {
  it('coffee-shop: every customer gets coffee', async () => {
    const out = await run('coffee-shop.js', server().connectString);
    assert.match(out, /6 of 6 customers got their coffee/);
    assert.equal((out.match(/is ready to serve/g) ?? []).length, 3);
  }, 90_000);
  it('locks', async () => {
    assert.match(await run('locks.js', server().connectString), /counter = 15/);
  });
  it('leader', async () => {
    const out = await run('leader.js', server().connectString);
    assert.match(out, /round 2: .* leads/);
    assert.match(out, /runs job 4/);
  });
  it('queue', async () => {
    assert.match(await run('queue.js', server().connectString), /processed = 10/);
  });
  it('membership', async () => {
    assert.match(await run('membership.js', server().connectString), /assignment: alpha=\S+ beta=\S+ gamma=\S+/);
  });
});
