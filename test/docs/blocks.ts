/**
 * The TypeScript code blocks of the project's Markdown, and how the docs test treats each one.
 *
 * A block's info string says what it is:
 * - ```ts            a program: compiled against the package and run, as written, against a
 *                    fresh server (the test points `127.0.0.1:2181` at it);
 * - ```ts fragment   part of a program: it must type-check on its own, with `zk` (a connected
 *                    ZooKeeperClient) and `signal` (an AbortSignal) provided;
 * - ```ts signature  a declaration summary in the generated API reference, which
 *                    test/client/api-docs.test.ts keeps true to the types.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export type BlockKind = 'program' | 'fragment' | 'signature';

export interface CodeBlock {
  /** The Markdown file, relative to the repository root. */
  file: string;
  /** 1-based line of the block's first code line (after the opening fence). */
  line: number;
  kind: BlockKind;
  code: string;
}

const KINDS: Record<string, BlockKind> = { '': 'program', fragment: 'fragment', signature: 'signature' };

/** README.md and every Markdown file under docs/ and examples/, in a stable order. */
export function markdownFiles(root: string): string[] {
  const out = [join(root, 'README.md')];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) out.push(path);
    }
  };
  walk(join(root, 'docs'));
  walk(join(root, 'examples'));
  return out;
}

/**
 * The ```ts / ```typescript blocks of one Markdown text. An info string with an unknown second
 * word throws, so a typo cannot silently exempt a block from the test.
 */
export function extractBlocks(file: string, text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)\s*(.*?)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, language, rest] = open as unknown as [string, string, string, string, string];
    const close = lines.findIndex((l, j) => j > i && l.trimEnd() === `${indent}${fence}`);
    if (close < 0) throw new Error(`${file}:${i + 1}: code block never closed`);
    if (language === 'ts' || language === 'typescript') {
      const kind = KINDS[rest];
      if (kind === undefined) throw new Error(`${file}:${i + 1}: unknown kind '${rest}' (use \`\`\`ts, \`\`\`ts fragment or \`\`\`ts signature)`);
      const code = lines.slice(i + 1, close).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l));
      blocks.push({ file, line: i + 2, kind, code: code.join('\n') });
    }
    i = close;
  }
  return blocks;
}

export function allBlocks(root: string): CodeBlock[] {
  return markdownFiles(root).flatMap((path) => extractBlocks(relative(root, path), readFileSync(path, 'utf8')));
}
