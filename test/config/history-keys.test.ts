/** commitLogCount and snapshotSizeFactor read as ZooKeeper's ZKDatabase reads them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseZooCfg } from '../../src/config/zoo-cfg.js';

function parse(extra: string): { commitLogCount: number; snapshotSizeFactor: number; warnings: string[] } {
  const { config, warnings } = parseZooCfg(`dataDir=/var/lib/paddock\nclientPort=2181\n${extra}\n`, { baseDir: '/work', myid: null, ensembleSupported: false });
  return { commitLogCount: config.commitLogCount, snapshotSizeFactor: config.snapshotSizeFactor, warnings };
}

test('defaults are 500 and 0.33; values are taken with no warning', () => {
  assert.deepEqual(parse(''), { commitLogCount: 500, snapshotSizeFactor: 0.33, warnings: [] });
  assert.deepEqual(parse('commitLogCount=2000\nsnapshotSizeFactor=0.5'), { commitLogCount: 2000, snapshotSizeFactor: 0.5, warnings: [] });
  assert.equal(parse('snapshotSizeFactor=-1').snapshotSizeFactor, -1, 'negative turns DIFFs from the log off');
});

test('commitLogCount below 500 or unreadable, snapshotSizeFactor above 1 or unreadable: the default, with a warning', () => {
  for (const [text, field, value] of [
    ['commitLogCount=20', 'commitLogCount', 500],
    ['commitLogCount=many', 'commitLogCount', 500],
    ['snapshotSizeFactor=1.5', 'snapshotSizeFactor', 0.33],
    ['snapshotSizeFactor=big', 'snapshotSizeFactor', 0.33],
  ] as const) {
    const parsed = parse(text);
    assert.equal(parsed[field], value, text);
    assert.equal(parsed.warnings.filter((w) => w.includes(field)).length, 1, `${text}: ${parsed.warnings.join('; ')}`);
  }
});
