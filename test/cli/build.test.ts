import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface BuildState {
  needsInstall(root: string): boolean;
  needsBuild(root: string): boolean;
  sourceFingerprint(root: string): string;
  writeStamp(root: string, fingerprint: string): void;
  makeBinsExecutable(root: string): string[];
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const state = (await import(new URL('../../../scripts/build-state.mjs', import.meta.url).href)) as BuildState;

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-build-'));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ include: ['src/**/*.ts'] }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', bin: { p: 'dist/main.js' }, devDependencies: { a: '^1.0.0' } }));
  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
  return dir;
}

function stamp(dir: string): void {
  state.writeStamp(dir, state.sourceFingerprint(dir));
}

test('a build is needed without a stamp, and after any source is changed, added or removed', () => {
  const dir = project();
  try {
    assert.equal(state.needsBuild(dir), true, 'no stamp yet');
    stamp(dir);
    assert.equal(state.needsBuild(dir), false, 'just built');
    writeFileSync(join(dir, 'README.md'), 'not a build input\n');
    assert.equal(state.needsBuild(dir), false, 'files outside the include roots do not count');
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 2;;\n');
    assert.equal(state.needsBuild(dir), true, 'edited');
    stamp(dir);
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'src', 'a.ts'), later, later);
    assert.equal(state.needsBuild(dir), true, 'same size, newer mtime');
    stamp(dir);
    mkdirSync(join(dir, 'src', 'deep'));
    writeFileSync(join(dir, 'src', 'deep', 'b.ts'), 'export {};\n');
    assert.equal(state.needsBuild(dir), true, 'added');
    stamp(dir);
    unlinkSync(join(dir, 'src', 'deep', 'b.ts'));
    assert.equal(state.needsBuild(dir), true, 'removed');
    stamp(dir);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ include: ['src/**/*.ts'], compilerOptions: { strict: true } }));
    assert.equal(state.needsBuild(dir), true, 'compiler settings changed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm install runs only when node_modules does not match the lock file', () => {
  const dir = project();
  try {
    const lock = {
      packages: {
        '': { devDependencies: { a: '^1.0.0' } },
        'node_modules/a': { version: '1.2.0' },
        'node_modules/fsevents': { version: '2.0.0', optional: true },
      },
    };
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
    assert.equal(state.needsInstall(dir), true, 'fresh clone: no node_modules');
    mkdirSync(join(dir, 'node_modules'));
    const installed = { packages: { 'node_modules/a': { version: '1.2.0' } } };
    writeFileSync(join(dir, 'node_modules', '.package-lock.json'), JSON.stringify(installed));
    assert.equal(state.needsInstall(dir), false, 'installed as locked (optional packages may be absent)');
    lock.packages['node_modules/a'].version = '1.3.0';
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
    assert.equal(state.needsInstall(dir), true, 'lock file moved on');
    lock.packages['node_modules/a'].version = '1.2.0';
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', devDependencies: { a: '^1.0.0', b: '^2.0.0' } }));
    assert.equal(state.needsInstall(dir), true, 'package.json has a dependency the lock file lacks');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bin files of package.json are made executable', () => {
  const dir = project();
  try {
    writeFileSync(join(dir, 'dist', 'main.js'), '#!/usr/bin/env node\n', { mode: 0o644 });
    assert.deepEqual(state.makeBinsExecutable(dir), ['dist/main.js']);
    assert.equal(statSync(join(dir, 'dist', 'main.js')).mode & 0o777, 0o755);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setup after a build neither installs nor builds', (t) => {
  // Running setup on a stale dist/ would rebuild it under the running tests.
  if (state.needsBuild(ROOT) || state.needsInstall(ROOT)) return t.skip('dist/ was not built by `npm run build` from these sources');
  const main = join(ROOT, 'dist', 'src', 'cli', 'main.js');
  const before = statSync(main).mtimeMs;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'setup.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, '');
  assert.equal(statSync(main).mtimeMs, before, 'dist was rebuilt: the sources changed after the last build?');
});
