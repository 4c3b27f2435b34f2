import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnlessZooKeeper, startZooKeeper, fourLetterWord } from './zookeeper.js';

test('Apache ZooKeeper starts and answers ruok', { skip: skipUnlessZooKeeper() }, async () => {
  const zk = await startZooKeeper();
  try {
    assert.equal(await fourLetterWord(zk.port, 'ruok'), 'imok');
  } finally {
    await zk.stop();
  }
});
