import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDisk, NodeDisk } from '../../src/io/disk.js';
import { secretSessionPassword, SessionPasswords, zookeeperSessionPassword } from '../../src/sessions/password.js';
import { formatSessionSecret, newSessionSecret, parseSessionSecret, SessionSecretError } from '../../src/sessions/secret.js';
import { SessionTracker } from '../../src/sessions/tracker.js';
import { loadOrCreateSessionSecret, SESSION_SECRET_FILE } from '../../src/server/session-secret.js';

/** A random source that replays the given byte strings, then fails the test. */
function scripted(...draws: number[][]): (n: number) => Uint8Array {
  return (n) => {
    const next = draws.shift();
    assert.ok(next, 'random source asked for more draws than scripted');
    assert.equal(next.length, n);
    return Uint8Array.from(next);
  };
}

/** A deterministic but scrambled source, standing in for crypto randomness. */
function counterSource(): (n: number) => Uint8Array {
  let state = 0x9e3779b9;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      out[i] = state >>> 24;
    }
    return out;
  };
}

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);

test("ZooKeeper's formula: java.util.Random(sessionId ^ 0xB3415C00).nextBytes(16)", () => {
  // Vectors computed with the JDK: new Random(id ^ 0xB3415C00L).nextBytes(new byte[16]).
  assert.equal(zookeeperSessionPassword(1n).toString('hex'), '054cc74a37327db215e702e20c73f005');
  assert.equal(zookeeperSessionPassword(-8070450532247928831n).toString('hex'), '054cc74a37327db215e702e20c73f005');
  assert.equal(zookeeperSessionPassword(123456789012345n).toString('hex'), '8bf4c71b6a74227de170ea4c5d4abf4c');
});

test('secret passwords are HMAC-SHA1(secret, id) cut to 16 bytes, and differ from the formula', () => {
  for (const id of [1n, -8070450532247928831n, 0x07ab_cdef_0123_4567n]) {
    const message = Buffer.alloc(8);
    message.writeBigInt64BE(id);
    const expected = createHmac('sha1', KEY).update(message).digest().subarray(0, 16);
    assert.deepEqual(secretSessionPassword(KEY, id), expected);
    assert.notDeepEqual(secretSessionPassword(KEY, id), zookeeperSessionPassword(id));
  }
  const otherKey = Uint8Array.from(KEY, (b) => b ^ 1);
  assert.notDeepEqual(secretSessionPassword(otherKey, 1n), secretSessionPassword(KEY, 1n), 'the password depends on the secret');
  // Keys longer than a SHA-1 block are hashed first, as RFC 2104 says.
  const longKey = Uint8Array.from({ length: 100 }, (_, i) => i);
  const message = Buffer.alloc(8);
  message.writeBigInt64BE(5n);
  assert.deepEqual(secretSessionPassword(longKey, 5n), createHmac('sha1', longKey).update(message).digest().subarray(0, 16));
});

test("secret mode refuses ZooKeeper's formula except for sessions issued under it", () => {
  const legacy = 0x0100_0000_0000_0042n;
  const passwords = new SessionPasswords('secret', { key: KEY, zookeeperFormulaIds: new Set([legacy]) });
  const id = 0x0155_5555_5555_5555n;
  assert.ok(passwords.matches(id, passwords.passwordFor(id)));
  assert.ok(!passwords.matches(id, zookeeperSessionPassword(id)), 'the public formula does not open a new session');
  assert.ok(!passwords.matches(id, null));
  assert.ok(!passwords.matches(id, Buffer.alloc(16)));
  assert.ok(!passwords.matches(id, passwords.passwordFor(id).subarray(0, 15)), 'a prefix is not the password');
  assert.deepEqual(passwords.passwordFor(legacy), zookeeperSessionPassword(legacy));
  assert.ok(passwords.matches(legacy, zookeeperSessionPassword(legacy)));
  assert.ok(passwords.isReserved(legacy) && !passwords.isReserved(id));
});

test("zookeeper mode restores ZooKeeper's formula for every session", () => {
  const passwords = new SessionPasswords('zookeeper', { key: KEY, zookeeperFormulaIds: new Set() });
  const id = 0x0155_5555_5555_5555n;
  assert.deepEqual(passwords.passwordFor(id), zookeeperSessionPassword(id));
  assert.ok(passwords.matches(id, zookeeperSessionPassword(id)));
});

test('session ids: server id in the top byte, 56 random bits below, not sequential', () => {
  const t = new SessionTracker(2000, 3, counterSource());
  const ids = Array.from({ length: 50 }, () => t.allocateId());
  for (const id of ids) assert.equal(BigInt.asUintN(64, id) >> 56n, 3n);
  assert.equal(new Set(ids).size, ids.length);
  for (let i = 1; i < ids.length; i++) assert.notEqual(ids[i]! - ids[i - 1]!, 1n, 'consecutive ids are not sequential');
  const t2 = new SessionTracker(2000, 3, scripted([1, 2, 3, 4, 5, 6, 7]));
  assert.equal(t2.allocateId(), 0x0301_0203_0405_0607n, 'the low 56 bits are the random bytes');
  // Server id 0x80 puts the sign bit on: ids stay signed 64-bit, as Java longs.
  const t3 = new SessionTracker(2000, 0x80, scripted([0, 0, 0, 0, 0, 0, 9]));
  assert.equal(t3.allocateId(), BigInt.asIntN(64, 0x8000_0000_0000_0009n));
});

test('session ids never collide with a live, restored, in-flight or reserved id, nor 0 or the container marker', () => {
  const same = [0, 0, 0, 0, 0, 0, 1];
  const t = new SessionTracker(2000, 1, scripted(same, same, [0, 0, 0, 0, 0, 0, 2], same, [0, 0, 0, 0, 0, 0, 3], same, [0, 0, 0, 0, 0, 0, 4], [0, 0, 0, 0, 0, 0, 5]));
  const a = t.allocateId();
  assert.equal(a, 0x0100_0000_0000_0001n);
  assert.equal(t.allocateId(), 0x0100_0000_0000_0002n, 'an in-flight id is not given twice');
  t.add(a, 4000, 0);
  assert.equal(t.allocateId(), 0x0100_0000_0000_0003n, 'a live id is not given again');
  t.release(0x0100_0000_0000_0003n);
  assert.equal(t.allocateId((id) => id === 0x0100_0000_0000_0004n), 0x0100_0000_0000_0005n, 'reserved ids are skipped');

  const zero = [0, 0, 0, 0, 0, 0, 0];
  const t0 = new SessionTracker(2000, 0, scripted(zero, [0, 0, 0, 0, 0, 0, 8]));
  assert.equal(t0.allocateId(), 8n, 'id 0 means "new session" and is never given');
  const tm = new SessionTracker(2000, 0x80, scripted(zero, [0, 0, 0, 0, 0, 0, 8]));
  assert.equal(tm.allocateId(), BigInt.asIntN(64, 0x8000_0000_0000_0008n), 'Long.MIN_VALUE marks containers and is never given');

  const broken = new SessionTracker(2000, 1, () => Uint8Array.from(same));
  broken.add(0x0100_0000_0000_0001n, 4000, 0);
  assert.throws(() => broken.allocateId(), /random source is broken/);
});

test('sessions expire on tick boundaries after their timeout, and touches push expiry out', () => {
  const t = new SessionTracker(100, 0, counterSource());
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

test('a kept session object is touched in place, and refuses once closing or removed', () => {
  const t = new SessionTracker(100, 0, counterSource());
  const s = t.add(7n, 250, 1000); // expires at 1300
  assert.ok(t.touchSession(s, 1200)); // now 1500, as touch by id would
  assert.equal(s.expiresAtMs, 1500);
  assert.deepEqual(t.expire(1499), []);
  t.remove(7n);
  assert.equal(t.touchSession(s, 1400), false, 'a removed session cannot be touched back to life');
  assert.deepEqual(t.expire(2000), [], 'nor put back in an expiry bucket');
  const again = t.add(7n, 250, 1400); // a new object for the same id
  assert.notEqual(again, s);
  assert.ok(t.touchSession(again, 1400));
  t.setClosing(7n);
  assert.equal(t.touchSession(again, 1400), false);
});

test('the secret file round-trips and refuses damage with a reason', () => {
  const secret = newSessionSecret(() => KEY, [0x0100_0000_0000_0042n, -5n]);
  const text = formatSessionSecret(secret);
  assert.match(text, /^secret=[0-9a-f]{64}$/m);
  const back = parseSessionSecret(text);
  assert.deepEqual(back.key, KEY);
  assert.deepEqual([...back.zookeeperFormulaIds].sort(), [0x0100_0000_0000_0042n, -5n].sort());
  assert.deepEqual([...parseSessionSecret(`secret=${'ab'.repeat(32)}\n`).zookeeperFormulaIds], []);
  assert.throws(() => parseSessionSecret('zookeeperFormulaSessions=\n'), SessionSecretError);
  assert.throws(() => parseSessionSecret('secret=abc\n'), /hex/);
  assert.throws(() => parseSessionSecret(`secret=${'ab'.repeat(8)}\n`), /at least 16 bytes/);
  assert.throws(() => parseSessionSecret(`secret=${'ab'.repeat(32)}\nzookeeperFormulaSessions=12\n`), /not a session id/);
  assert.throws(() => parseSessionSecret(`secret=${'ab'.repeat(32)}\nsecrte=1\n`), /unknown key 'secrte'/);
  assert.throws(() => newSessionSecret(() => new Uint8Array(3), []), /random source/);
});

test('the secret file is created once, with the live sessions as ZooKeeper-formula ones, then read back', async () => {
  const disk = new MemoryDisk();
  await disk.mkdirp('/data');
  await disk.open(`/data/${SESSION_SECRET_FILE}.tmp`, 'createExclusive').then((f) => f.close());
  const first = await loadOrCreateSessionSecret(disk, '/data', [7n, 9n], () => KEY);
  assert.ok(first.created);
  assert.deepEqual([...first.secret.zookeeperFormulaIds], [7n, 9n]);
  assert.equal(await disk.stat(`/data/${SESSION_SECRET_FILE}.tmp`), null, 'a leftover temporary file is replaced');
  disk.crash();
  const again = await loadOrCreateSessionSecret(disk, '/data', [11n], () => {
    throw new Error('an existing secret must not be replaced');
  });
  assert.ok(!again.created);
  assert.deepEqual(again.secret.key, KEY, 'the secret was durable before the call returned');
  assert.deepEqual([...again.secret.zookeeperFormulaIds], [7n, 9n], 'only sessions alive at creation keep the formula');
});

test('on a real disk the secret file is private (mode 600), and a damaged one stops the start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-secret-'));
  try {
    const disk = new NodeDisk();
    await loadOrCreateSessionSecret(disk, dir, [], () => KEY);
    const path = join(dir, SESSION_SECRET_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(readFileSync(path, 'utf8'), /secret=/);
    writeFileSync(path, 'secret=zz\n');
    await assert.rejects(loadOrCreateSessionSecret(disk, dir, [], () => KEY), /paddock\.secret is damaged .*hex/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
