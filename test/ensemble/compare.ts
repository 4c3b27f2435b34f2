/** Node-by-node comparison of members' trees (outside /zookeeper, which each server writes itself). */
import assert from 'node:assert/strict';
import type { DataTree } from '../../src/tree/datatree.js';

/** Asserts every tree equals the first: data, every Stat field, children. Returns the node count. */
export function assertTreesEqual(trees: readonly DataTree[], names: readonly string[]): number {
  const [first, ...rest] = trees;
  assert.ok(first, 'no tree to compare');
  let compared = 0;
  const walk = (path: string): void => {
    const node = first.getNode(path)!;
    const children = first.childrenOf(path).filter((c) => !(path === '/' && c === 'zookeeper')).sort();
    rest.forEach((tree, i) => {
      const other = tree.getNode(path);
      assert.ok(other, `${path} is missing on ${names[i + 1]}`);
      assert.deepEqual(tree.statOf(other), first.statOf(node), `${path}: stat on ${names[i + 1]}`);
      assert.deepEqual(other.data ?? Buffer.alloc(0), node.data ?? Buffer.alloc(0), `${path}: data on ${names[i + 1]}`);
      const theirs = tree.childrenOf(path).filter((c) => !(path === '/' && c === 'zookeeper')).sort();
      assert.deepEqual(theirs, children, `${path}: children on ${names[i + 1]}`);
    });
    compared++;
    for (const c of children) walk(path === '/' ? `/${c}` : `${path}/${c}`);
  };
  walk('/');
  return compared;
}
