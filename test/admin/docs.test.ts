/** docs/compatibility.md lists every admin command with its aliases, as src/admin/commands.ts has them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ADMIN_COMMANDS } from '../../src/admin/commands.js';

test('the admin command table in docs/compatibility.md matches the commands', () => {
  const doc = readFileSync(new URL('../../../docs/compatibility.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Admin HTTP API'), doc.indexOf('## Metrics'));
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| ([a-z_]+) \|([a-z, ]*)\|/gm)) if (m[1] !== 'command') rows.set(m[1]!, m[2]!.trim());
  assert.deepEqual([...rows.keys()].sort(), ADMIN_COMMANDS.map((c) => c.name).sort());
  for (const c of ADMIN_COMMANDS) assert.equal(rows.get(c.name), c.aliases.join(', '), `aliases of ${c.name}`);
});
