/** Node-by-node comparison of a Paddock tree with what a ZooKeeper server serves. */
import assert from 'node:assert/strict';
import type { ZooKeeperClient } from '../../src/client/index.js';
import type { DataTree } from '../../src/tree/datatree.js';

/**
 * Every node outside /zookeeper, read through `client`, compared with `tree`: data, every Stat
 * field and the children. Returns how many nodes were compared.
 */
export async function compareTrees(client: ZooKeeperClient, tree: DataTree): Promise<number> {
  let compared = 0;
  const walk = async (path: string): Promise<void> => {
    const { data, stat } = await client.getData(path);
    const node = tree.getNode(path);
    assert.ok(node, `${path} is missing from the learner's tree`);
    const mine = tree.statOf(node);
    assert.deepEqual(
      { ...mine, czxid: BigInt(mine.czxid), mzxid: BigInt(mine.mzxid), pzxid: BigInt(mine.pzxid) },
      stat,
      `${path}: stat`,
    );
    assert.deepEqual(node.data ?? Buffer.alloc(0), data, `${path}: data`);
    const children = (await client.getChildren(path)).filter((c) => !(path === '/' && c === 'zookeeper')).sort();
    const myChildren = tree.childrenOf(path).filter((c) => !(path === '/' && c === 'zookeeper')).sort();
    assert.deepEqual(myChildren, children, `${path}: children`);
    compared++;
    for (const c of children) await walk(path === '/' ? `/${c}` : `${path}/${c}`);
  };
  await walk('/');
  return compared;
}
