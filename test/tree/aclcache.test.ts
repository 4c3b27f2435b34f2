import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Perm } from '../../src/jute/constants.js';
import type { ACL } from '../../src/jute/records.js';
import { Prng } from '../../src/lib/prng.js';
import { AclCache } from '../../src/tree/aclcache.js';

const LISTS: ACL[][] = [
  [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }],
  [{ perms: Perm.READ, id: { scheme: 'world', id: 'anyone' } }],
  [{ perms: Perm.ALL, id: { scheme: 'digest', id: 'u:h' } }, { perms: Perm.READ, id: { scheme: 'world', id: 'anyone' } }],
  [{ perms: Perm.ALL, id: { scheme: 'digest', id: 'u:h' } }],
  [],
];

test('interning shares one array per list and drops it with its last reference', () => {
  // A model: references held per list index; the cache must agree on sharing and size.
  const cache = new AclCache();
  const rnd = new Prng(3);
  const held: ACL[][][] = LISTS.map(() => []);
  for (let step = 0; step < 5000; step++) {
    const i = rnd.int(LISTS.length);
    if (rnd.bool(0.55) || held[i]!.length === 0) {
      // A fresh copy each time: equal content, never the same array.
      const got = cache.intern(structuredClone(LISTS[i]!));
      assert.deepEqual(got, LISTS[i]);
      if (held[i]!.length > 0) assert.equal(got, held[i]![0]);
      held[i]!.push(got);
    } else {
      cache.release(held[i]!.pop()!);
    }
    assert.equal(cache.size(), held.filter((h) => h.length > 0).length, `step ${step}`);
  }
});

test('a list released to zero and interned again is a new entry', () => {
  const cache = new AclCache();
  const a = cache.intern(LISTS[0]!);
  cache.release(a);
  assert.equal(cache.size(), 0);
  const b = cache.intern(LISTS[0]!);
  assert.equal(cache.size(), 1);
  cache.release(b);
  assert.equal(cache.size(), 0);
  // `a` is gone: releasing it again changes nothing.
  cache.release(a);
  assert.equal(cache.size(), 0);
});
