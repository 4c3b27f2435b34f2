/**
 * The published package, as a user gets it: `npm pack`, install the tarball into an empty
 * project (offline: the package has no runtime dependencies), then compile a program that uses
 * both entry points with moduleResolution node and nodenext and run it against the test server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';

const run = promisify(execFile);
/** The repository root, from dist/test/package/. */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

const program = `
import { connect, NoNodeError, type ZooKeeperClient } from 'paddock';
import { startTestServer, type TestServer } from 'paddock/testing';

const server: TestServer = await startTestServer();
try {
  const zk: ZooKeeperClient = await connect(server.connectString);
  await zk.create('/hello', 'world');
  const { data } = await zk.getData('/hello');
  const missing = await zk.getData('/missing').then(() => 'found', (err: unknown) => (err instanceof NoNodeError ? 'NoNodeError' : String(err)));
  console.log(\`\${data.toString()} \${missing}\`);
  await zk.close();
} finally {
  await server.close();
}
`;

/** A consumer's tsconfig: ESM output either way, since the package is ESM only. */
function tsconfig(resolution: 'node' | 'nodenext'): string {
  const module = resolution === 'node' ? 'ES2022' : 'NodeNext';
  return JSON.stringify({
    compilerOptions: { module, moduleResolution: resolution, target: 'ES2022', strict: true, types: ['node'], outDir: `out-${resolution}` },
    files: ['main.ts'],
  });
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

async function pack(into: string): Promise<PackResult> {
  // --ignore-scripts: packing must not rebuild dist/ under the running tests.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', into], { cwd: root, env: npmEnv(into) });
  const [result] = JSON.parse(stdout) as PackResult[];
  assert.ok(result, 'npm pack reported a tarball');
  return result;
}

/** npm with its cache in the temp dir, so the test neither reads nor fills the user's cache. */
function npmEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false' };
}

test('npm pack: the package installs offline and both entry points work under moduleResolution node and nodenext', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-pack-'));
  try {
    const { filename, files } = await pack(dir);
    const paths = files.map((f) => f.path);
    for (const wanted of ['package.json', 'README.md', 'conf/zoo.cfg', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/testing.d.ts', 'dist/src/cli/main.js']) {
      assert.ok(paths.includes(wanted), `the package holds ${wanted}`);
    }
    const unwanted = paths.filter((p) => /^(test|bench|dist\/test|dist\/bench|dist\/examples|src|examples|\.ci)\//.test(p) || p.endsWith('.map'));
    assert.deepEqual(unwanted, [], 'no tests, benchmarks, sources or source maps are published');

    const project = join(dir, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, filename)], { cwd: project, env: npmEnv(dir) });
    // A user has @types/node; lend this repository's rather than download it.
    mkdirSync(join(project, 'node_modules', '@types'));
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'), 'dir');
    writeFileSync(join(project, 'main.ts'), program);

    for (const resolution of ['node', 'nodenext'] as const) {
      writeFileSync(join(project, `tsconfig.${resolution}.json`), tsconfig(resolution));
      await run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], { cwd: project }).catch((err: { stdout?: string }) => {
        assert.fail(`tsc with moduleResolution ${resolution} failed:\n${err.stdout ?? String(err)}`);
      });
      const { stdout } = await run(process.execPath, [join(project, `out-${resolution}`, 'main.js')], { cwd: project, timeout: 30_000 });
      assert.equal(stdout.trim(), 'world NoNodeError', `the program built with moduleResolution ${resolution} ran`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('conf/zoo.cfg, the sample the package ships, starts a standalone server without a warning', () => {
  const text = readFileSync(join(root, 'conf', 'zoo.cfg'), 'utf8');
  const { config, warnings } = parseZooCfg(text, { baseDir: '/srv/paddock' });
  assert.deepEqual(warnings, []);
  assert.equal(config.clientPort, 2181);
  assert.equal(config.dataDir, '/srv/paddock/data');
  assert.equal(config.servers.length, 0);
});
