#!/usr/bin/env node
/**
 * `npm run build`: a clean build of dist/ (so no output of a deleted source survives), the
 * package's bin made executable, and a stamp that lets `npm start` and `npm test` skip the next
 * build while the sources stay the same.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBinsExecutable, sourceFingerprint, writeStamp } from './build-state.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds dist/ from scratch; returns tsc's exit status. */
export function build() {
  // Taken before compiling: a source edited during the build makes the stamp stale, not wrong.
  const fingerprint = sourceFingerprint(root);
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) return result.status ?? 1;
  makeBinsExecutable(root);
  writeStamp(root, fingerprint);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = build();
