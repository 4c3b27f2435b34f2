#!/usr/bin/env node
/**
 * Runs before `npm start`, `npm test` and `npm run bench`: installs dependencies only when
 * node_modules does not match package-lock.json (a fresh clone, or a changed lock file), and
 * builds only when the sources changed since the last build.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from './build.mjs';
import { needsBuild, needsInstall } from './build-state.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function setup() {
  if (needsInstall(root)) {
    const npm = process.env.npm_execpath;
    const [command, args] = npm ? [process.execPath, [npm]] : ['npm', []];
    const install = spawnSync(command, [...args, 'install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: 'inherit' });
    if (install.status !== 0) return install.status ?? 1;
  }
  return needsBuild(root) ? build() : 0;
}

process.exitCode = setup();
