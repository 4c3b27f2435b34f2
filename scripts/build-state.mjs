/**
 * What `npm start`, `npm test` and `npm run build` need to know to skip work: whether the
 * dependencies in node_modules match package-lock.json, whether dist/ was built from the current
 * sources, and which files must stay executable. Plain JavaScript: it runs before any build.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Written into dist/ after a successful build: the fingerprint of the sources it was built from. */
export const STAMP = join('dist', '.build-stamp');

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/**
 * True when node_modules is missing or does not hold what package-lock.json asks for (npm keeps
 * what it installed in node_modules/.package-lock.json), or when package.json lists dependencies
 * the lock file does not.
 */
export function needsInstall(root) {
  const installedPath = join(root, 'node_modules', '.package-lock.json');
  const lockPath = join(root, 'package-lock.json');
  if (!existsSync(installedPath) || !existsSync(lockPath)) return true;
  const lock = readJson(lockPath);
  const installed = readJson(installedPath).packages ?? {};
  const pkg = readJson(join(root, 'package.json'));
  const lockRoot = lock.packages?.[''] ?? {};
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    if (JSON.stringify(pkg[field] ?? {}) !== JSON.stringify(lockRoot[field] ?? {})) return true;
  }
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || entry.optional || entry.link) continue;
    if (installed[path]?.version !== entry.version) return true;
  }
  return false;
}

/** Every file the build reads: the TypeScript under tsconfig's include roots, and the build's own settings. */
function buildInputs(root) {
  const tsconfig = readJson(join(root, 'tsconfig.json'));
  const roots = new Set((tsconfig.include ?? []).map((pattern) => pattern.split('/')[0]));
  const files = ['tsconfig.json', 'package.json', 'package-lock.json'].filter((f) => existsSync(join(root, f)));
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(relative(root, path));
    }
  };
  for (const dir of roots) if (existsSync(join(root, dir))) walk(join(root, dir));
  return files.sort();
}

/** Changes when a build input is added, removed or modified (by mtime and size: no file is read). */
export function sourceFingerprint(root) {
  const hash = createHash('sha256');
  for (const file of buildInputs(root)) {
    const st = statSync(join(root, file));
    hash.update(`${file}\t${st.mtimeMs}\t${st.size}\n`);
  }
  return hash.digest('hex');
}

/** True when dist/ is missing or was built from other sources than the current ones. */
export function needsBuild(root) {
  const stamp = join(root, STAMP);
  return !existsSync(stamp) || readFileSync(stamp, 'utf8').trim() !== sourceFingerprint(root);
}

export function writeStamp(root, fingerprint) {
  writeFileSync(join(root, STAMP), `${fingerprint}\n`);
}

/** The `bin` files of package.json, made executable (tsc writes them with mode 0644). */
export function makeBinsExecutable(root) {
  const { bin } = readJson(join(root, 'package.json'));
  const paths = typeof bin === 'string' ? [bin] : Object.values(bin ?? {});
  for (const path of paths) chmodSync(join(root, path), 0o755);
  return paths;
}
