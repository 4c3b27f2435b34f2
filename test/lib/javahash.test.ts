import { test } from 'node:test';
import assert from 'node:assert/strict';
import { javaCloneCapacity, javaCopyCapacity, javaHashSetOrder, javaStringHash } from '../../src/lib/javahash.js';

test('String.hashCode matches Java', () => {
  assert.equal(javaStringHash(''), 0);
  assert.equal(javaStringHash('hello'), 99162322);
  assert.equal(javaStringHash('/app/seq/s-0000000001'), javaStringHash('/app/seq/s-0000000001'));
  assert.equal(javaStringHash('polygenelubricants'), -2147483648);
});

test('HashSet iteration order matches the JDK', () => {
  // Printed by: new ArrayList<>(new HashSet<>(set)) for a HashSet filled in this order (JDK 17).
  const inserted = ['/s22/e', '/s22/a/q0000000003', '/s1/b/x', '/zz', '/a', '/app/seq/s-0000000001', '/q/n-0000000000', '/x/😀'];
  const original = javaHashSetOrder(inserted, 16);
  assert.deepEqual(javaHashSetOrder(original, javaCopyCapacity(original.length)), [
    '/x/😀', '/s1/b/x', '/a', '/s22/e', '/s22/a/q0000000003', '/app/seq/s-0000000001', '/q/n-0000000000', '/zz',
  ]);
});

test('HashSet.clone() order matches the JDK (the set closeSession deletes)', () => {
  // Printed by: new ArrayList<>((HashSet) set.clone()) for a HashSet filled in this order (JDK 17).
  const inserted = ['/s5187/e/x', '/s5187/q0000000007', '/a', '/bb', '/s1/x'];
  const original = javaHashSetOrder(inserted, 16);
  assert.deepEqual(javaHashSetOrder(original, javaCloneCapacity(original.length)), ['/s5187/e/x', '/a', '/s5187/q0000000007', '/s1/x', '/bb']);
});
