/** Who may log in to an exposed console (login.ts), and the bounded table of logins. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestId } from '../../src/acl/index.js';
import { digestLoginIds, isLoopbackAddress, LoginTable, loginAllowed } from '../../src/admin/console/login.js';
import { Perm } from '../../src/jute/constants.js';

test('loopback addresses need no login; anything else does', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(a), a);
  for (const a of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1']) assert.ok(!isLoopbackAddress(a), a);
});

test('a login must be named by a digest entry of the root ACL, or be the super user', () => {
  const ops = digestLoginIds('ops', 'pw', null)!;
  assert.deepEqual(ops, [{ scheme: 'digest', id: digestId('ops:pw') }]);
  const world = [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }];
  assert.ok(!loginAllowed(world, ops), 'world:anyone names nobody');
  assert.ok(!loginAllowed(null, ops));
  const named = [...world, { perms: Perm.READ, id: { scheme: 'digest', id: digestId('ops:pw') } }];
  assert.ok(loginAllowed(named, ops));
  assert.ok(!loginAllowed(named, digestLoginIds('ops', 'other', null)!));
  const superDigest = digestId('super:secret');
  assert.ok(loginAllowed(world, digestLoginIds('super', 'secret', superDigest)!));
  assert.equal(digestLoginIds('', 'pw', null), null);
  assert.equal(digestLoginIds('a:b', 'pw', null), null);
  assert.equal(digestLoginIds('ops', '', null), null);
});

test('the login table is bounded and forgets idle logins', () => {
  const t = new LoginTable<string>(2, 1000);
  assert.ok(t.add('a', 'u1', 'h1', 0));
  assert.ok(t.add('b', 'u2', 'h2', 0));
  assert.ok(!t.add('c', 'u3', 'h3', 0), 'full');
  assert.equal(t.use('a', 900)?.user, 'u1');
  assert.equal(t.use('b', 1500), undefined, 'idle too long');
  assert.deepEqual(t.expire(1500), ['h2']);
  assert.equal(t.remove('a'), 'h1');
  assert.equal(t.size, 0);
});
