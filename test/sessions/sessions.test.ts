import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessionPassword } from '../../src/sessions/password.js';
import { SessionTracker } from '../../src/sessions/tracker.js';

test('session passwords match java.util.Random(sessionId ^ 0xB3415C00).nextBytes(16)', () => {
  // Vectors computed with the JDK: new Random(id ^ 0xB3415C00L).nextBytes(new byte[16]).
  assert.equal(sessionPassword(1n).toString('hex'), '054cc74a37327db215e702e20c73f005');
  assert.equal(sessionPassword(-8070450532247928831n).toString('hex'), '054cc74a37327db215e702e20c73f005');
  assert.equal(sessionPassword(123456789012345n).toString('hex'), '8bf4c71b6a74227de170ea4c5d4abf4c');
});

test('session ids carry the server id in the top byte and count up', () => {
  const t = new SessionTracker(2000, 3, 1_700_000_000_000);
  const a = t.allocateId();
  const b = t.allocateId();
  assert.equal(b, a + 1n);
  assert.equal(BigInt.asUintN(64, a) >> 56n, 3n);
});

test('sessions expire on tick boundaries after their timeout, and touches push expiry out', () => {
  const t = new SessionTracker(100, 0, 0);
  t.add(1n, 250, 1000); // expires at the tick boundary after 1250: 1300
  t.add(2n, 250, 1000);
  assert.deepEqual(t.expire(1299), []);
  assert.ok(t.touch(2n, 1200)); // now expires at 1500
  assert.deepEqual(t.expire(1300), [1n]);
  assert.equal(t.get(1n)?.closing, true);
  assert.equal(t.touch(1n, 1300), false, 'a closing session cannot be touched back to life');
  assert.deepEqual(t.expire(1499), []);
  assert.deepEqual(t.expire(1500), [2n]);
  t.remove(1n);
  assert.equal(t.get(1n), undefined);
});
