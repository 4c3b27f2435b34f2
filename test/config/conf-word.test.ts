import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPaddock } from '../support/paddock.js';
import { fourLetterWord, skipUnlessZooKeeper, startZooKeeper } from '../support/zookeeper.js';

/** The `name=value` lines of a conf answer, with the values that differ per run (paths, sizes, ports) blanked. */
function shape(conf: string, dataDir: string, port: number): string[] {
  return conf
    .trimEnd()
    .split('\n')
    .map((line) => {
      const [name, value] = [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)];
      if (name === 'dataDirSize' || name === 'dataLogSize') return `${name}=<size>`;
      return `${name}=${value.replace(dataDir, '<dataDir>').replace(String(port), '<port>')}`;
    });
}

test('conf answers with ZooKeeper 3.8\'s lines and values', { skip: skipUnlessZooKeeper(), timeout: 120_000 }, async () => {
  const zk = await startZooKeeper({ config: { maxClientCnxns: '0' } });
  try {
    const paddock = await startPaddock({ tickTime: 2000, maxClientCnxns: 0 });
    try {
      const expected = shape(await fourLetterWord(zk.port, 'conf'), zk.dataDir, zk.port);
      const actual = shape(await fourLetterWord(paddock.port, 'conf'), paddock.dataDir, paddock.port);
      assert.deepEqual(actual, expected);
    } finally {
      await paddock.stop();
    }
  } finally {
    await zk.stop();
  }
});
