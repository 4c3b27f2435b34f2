/**
 * Every TypeScript block of README.md, docs/ and examples/ works as written (see blocks.ts for
 * the kinds): all are compiled together against the built package, imported as 'paddock' through
 * its package.json like a user's program would; each program then runs in its own process
 * against its own fresh server, and must exit 0 by itself (so it must close what it opens).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { startTestServer } from '../../src/testing.js';
import { allBlocks, extractBlocks, type CodeBlock } from './blocks.js';

/** The repository root, from dist/test/docs/. */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** What the blocks connect to; the test rewrites it to the fresh server's address. */
const DOCUMENTED_ADDRESS = '127.0.0.1:2181';
const RUN_TIMEOUT_MS = 30_000;
/**
 * What a fragment may use without declaring it. Appended, not prepended, so that compiler
 * messages keep the block's own line numbers (ambient declarations may come after their use).
 */
const FRAGMENT_CONTEXT = "\ndeclare const zk: import('paddock').ZooKeeperClient;\ndeclare const signal: AbortSignal;\n";

const blocks = allBlocks(root);
const sourceName = (b: CodeBlock): string => `${b.file.replace(/[^A-Za-z0-9]+/g, '_')}_L${b.line}.ts`;

/** A scratch project in which 'paddock' is this repository, as if installed. */
function scratchProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-docs-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'docs-blocks', private: true, type: 'module' }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'paddock'), 'dir');
  return dir;
}

interface Compiled {
  /** Compiler messages per block source name, with Markdown line numbers. */
  errors: Map<string, string[]>;
  /** The emitted JavaScript of each program block, by source name. */
  output: Map<string, string>;
}

function compile(dir: string, toCompile: CodeBlock[]): Compiled {
  const byName = new Map(toCompile.map((b) => [join(dir, 'src', sourceName(b)), b]));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'out'));
  for (const [path, b] of byName) {
    // `export {}` makes every block a module, as a file with imports is anyway.
    writeFileSync(path, `${b.code}\nexport {};\n${b.kind === 'fragment' ? FRAGMENT_CONTEXT : ''}`);
  }
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
    strict: true,
    skipLibCheck: true,
    outDir: join(dir, 'out'),
    rootDir: join(dir, 'src'),
  };
  const program = ts.createProgram([...byName.keys()], options);
  const errors = new Map<string, string[]>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const block = d.file ? byName.get(d.file.fileName) : undefined;
    const key = block ? sourceName(block) : '(program)';
    const where = block && d.start !== undefined ? `${block.file}:${block.line + d.file!.getLineAndCharacterOfPosition(d.start).line}: ` : '';
    errors.set(key, [...(errors.get(key) ?? []), `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`]);
  }
  const output = new Map<string, string>();
  program.emit(undefined, (fileName, text) => {
    if (fileName.endsWith('.js')) output.set(fileName.slice(fileName.lastIndexOf('/') + 1).replace(/\.js$/, '.ts'), text);
  });
  return { errors, output };
}

function runNode(file: string, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd, timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

test('the block extractor reads kinds from the info string and refuses unknown ones', () => {
  const md = ['# t', '```ts', 'a();', '```', '```ts fragment', 'b();', '```', '```sh', 'ls', '```', '  ```typescript', '  c();', '  ```'].join('\n');
  assert.deepEqual(
    extractBlocks('t.md', md).map((b) => [b.line, b.kind, b.code]),
    [
      [3, 'program', 'a();'],
      [6, 'fragment', 'b();'],
      [12, 'program', 'c();'],
    ],
  );
  assert.throws(() => extractBlocks('t.md', '```ts fragmnet\nx\n```'), /t\.md:1: unknown kind 'fragmnet'/);
});

test('declaration summaries appear only in the generated API reference', () => {
  const elsewhere = blocks.filter((b) => b.kind === 'signature' && b.file !== 'docs/recipes/api-reference.md');
  assert.deepEqual(elsewhere.map((b) => `${b.file}:${b.line}`), []);
});

test('the docs\' TypeScript blocks compile against the package and the programs run against a fresh server', { timeout: 600_000 }, async (t) => {
  const checked = blocks.filter((b) => b.kind !== 'signature');
  assert.ok(checked.some((b) => b.file === 'README.md' && b.kind === 'program'), 'the README has a program to run');
  const dir = scratchProject();
  try {
    const { errors, output } = compile(dir, checked);
    assert.deepEqual(errors.get('(program)') ?? [], [], 'the compilation as a whole has no errors');
    for (const block of checked) {
      const name = sourceName(block);
      await t.test(`${block.file}:${block.line} (${block.kind})`, async (st) => {
        assert.deepEqual(errors.get(name) ?? [], [], 'it compiles');
        if (block.kind !== 'program') return;
        const js = output.get(name);
        assert.ok(js !== undefined, 'it was emitted');
        const server = await startTestServer();
        try {
          const file = join(dir, 'out', name.replace(/\.ts$/, '.js'));
          writeFileSync(file, js.replaceAll(DOCUMENTED_ADDRESS, server.connectString));
          const { code, output: printed } = await runNode(file, dir);
          if (printed.trim()) st.diagnostic(`${block.file}:${block.line} printed: ${printed.trim()}`);
          assert.equal(code, 0, `it ran to completion and exited 0 (within ${RUN_TIMEOUT_MS} ms); it printed:\n${printed}`);
        } finally {
          await server.close();
        }
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

