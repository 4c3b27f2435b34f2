/** docs/compatibility.md lists every admin command with its aliases, as src/admin/commands.ts has them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ADMIN_COMMANDS } from '../../src/admin/commands.js';

test('the admin command table in docs/compatibility.md matches the commands', () => {
  const doc = readFileSync(new URL('../../../docs/compatibility.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Admin HTTP API'), doc.indexOf('## Metrics'));
  const rows = new Map<string, string>();
  const status = new Map<string, string>();
  for (const m of section.matchAll(/^\| ([a-z_]+) \|([a-z, ]*)\|(.*)\|$/gm)) {
    if (m[1] === 'command') continue;
    rows.set(m[1]!, m[2]!.trim());
    status.set(m[1]!, m[3]!.trim());
  }
  assert.deepEqual([...rows.keys()].sort(), ADMIN_COMMANDS.map((c) => c.name).sort());
  for (const c of ADMIN_COMMANDS) {
    assert.equal(rows.get(c.name), c.aliases.join(', '), `aliases of ${c.name}`);
    // What a command does differently from ZooKeeper is said where it is declared and in the docs.
    if (c.note !== '') assert.ok(status.get(c.name)!.includes(c.note), `${c.name}: the docs say "${c.note}"`);
  }
});
