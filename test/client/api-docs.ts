/**
 * Generates the API reference (docs/recipes/api-reference.md) from the types and doc comments
 * of the package entry, with the TypeScript compiler API. `node dist/test/client/api-docs.js`
 * rewrites it; api-docs.test.ts fails when it is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const OUTPUT = join(root, 'docs', 'recipes', 'api-reference.md');

function doc(checker: ts.TypeChecker, symbol: ts.Symbol | undefined): string {
  if (!symbol) return '';
  return ts.displayPartsToString(symbol.getDocumentationComment(checker)).replace(/\s*\n\s*/g, ' ').trim();
}

/** A declaration's source text without its body, on one line. */
function head(node: ts.Node): string {
  const sf = node.getSourceFile();
  const body = (node as { body?: ts.Node }).body;
  const members = ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node) ? node.members : undefined;
  const end = members ? members.pos : body ? body.getStart(sf) : node.end;
  let text = sf.text.slice(node.getStart(sf), end);
  text = text.replace(/\/\*\*[\s\S]*?\*\//g, '').replace(/\s+/g, ' ').trim();
  return text.replace(/^export (declare )?/, '').replace(/[;{]\s*$/, '').trim();
}

/**
 * The info string of every declaration block: `ts` for highlighting, `signature` so that the docs
 * test (test/docs/) knows these are declaration summaries, not programs; this file's staleness
 * test is what keeps them true.
 */
const FENCE = '```ts signature';

/** A member's name as written, or 'constructor'. */
function memberName(m: ts.ClassElement | ts.TypeElement): string {
  return m.name ? m.name.getText() : 'constructor';
}

/**
 * One list line per public member of `decl`, skipping names in `seen` (overridden in a subclass
 * already listed), then adding this declaration's names to `seen`.
 */
function memberLines(checker: ts.TypeChecker, decl: ts.ClassDeclaration | ts.InterfaceDeclaration, seen: Set<string>, note: string): string[] {
  const lines: string[] = [];
  const own = new Set<string>();
  for (const m of decl.members as ts.NodeArray<ts.ClassElement | ts.TypeElement>) {
    const mods = ts.canHaveModifiers(m) ? ts.getModifiers(m) ?? [] : [];
    if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
    if (!m.name && !ts.isConstructorDeclaration(m)) continue;
    if (m.name && ts.isPrivateIdentifier(m.name)) continue;
    own.add(memberName(m));
    if (seen.has(memberName(m))) continue;
    const text = head(m);
    const d = doc(checker, m.name ? checker.getSymbolAtLocation(m.name) : undefined);
    lines.push(`- \`${text}\`${note}${d ? ` — ${d}` : ''}`);
  }
  for (const name of own) seen.add(name);
  return lines;
}

/** The class `decl` extends, when the package does not export it; undefined otherwise. */
function unexportedBase(checker: ts.TypeChecker, decl: ts.ClassDeclaration | ts.InterfaceDeclaration, exported: Set<ts.Symbol>): ts.ClassDeclaration | undefined {
  if (!ts.isClassDeclaration(decl)) return undefined;
  const clause = decl.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword);
  const expression = clause?.types[0]?.expression;
  let symbol = expression ? checker.getSymbolAtLocation(expression) : undefined;
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  if (!symbol || exported.has(symbol)) return undefined;
  return symbol.declarations?.find(ts.isClassDeclaration);
}

export function generate(): string {
  const entry = join(root, 'src', 'index.ts');
  const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (!source) throw new Error('no entry');
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error('no module symbol');
  const exports = checker.getExportsOfModule(moduleSymbol).sort((a, b) => a.name.localeCompare(b.name));
  const exported = new Set(exports.map((e) => (e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e)));
  const sections: Record<string, string[]> = {};
  for (const exp of exports) {
    const symbol = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
    const decl = symbol.declarations?.[0];
    if (!decl) continue;
    const file = decl.getSourceFile().fileName.replace(`${root}/`, '');
    const area = file.includes('/recipes/') ? 'Recipes' : file.includes('/jute/') ? 'Protocol constants' : 'Client';
    const lines: string[] = [];
    lines.push(`### \`${exp.name}\``);
    lines.push('');
    const summary = doc(checker, symbol);
    if (summary) lines.push(summary, '');
    if (ts.isClassDeclaration(decl) || ts.isInterfaceDeclaration(decl)) {
      lines.push(FENCE, head(decl).replace(/ implements .*/, ''), '```');
      const seen = new Set<string>();
      const members = memberLines(checker, decl, seen, '');
      // Members a class inherits from a base the package does not export are part of its API
      // (DistributedQueue.take() comes from SequentialQueue): list them too.
      for (let base = unexportedBase(checker, decl, exported); base; base = unexportedBase(checker, base, exported)) {
        members.push(...memberLines(checker, base, seen, ` (inherited from \`${base.name?.text ?? 'base'}\`)`));
      }
      if (members.length) lines.push('', ...members);
    } else if (ts.isVariableDeclaration(decl)) {
      const type = checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, decl), undefined, ts.TypeFormatFlags.NoTruncation);
      lines.push(FENCE, `const ${exp.name}: ${type}`, '```');
    } else {
      lines.push(FENCE, head(decl), '```');
    }
    (sections[area] ??= []).push(lines.join('\n'));
  }
  const out = ['# API reference', '', '_Generated from the types and doc comments of `src/index.ts` by `test/client/api-docs.ts`; do not edit._', ''];
  for (const area of ['Client', 'Recipes', 'Protocol constants']) {
    if (!sections[area]) continue;
    out.push(`## ${area}`, '', sections[area]!.join('\n\n'), '');
  }
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(OUTPUT, generate());
  console.log(`wrote ${OUTPUT}`);
}

export function current(): string {
  return readFileSync(OUTPUT, 'utf8');
}
