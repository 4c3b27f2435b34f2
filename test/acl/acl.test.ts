import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  OPEN_ACL_UNSAFE,
  authenticate,
  checkAcl,
  digestId,
  fixupAcl,
  ipAuthId,
  ipMatches,
  isValidDigestId,
  isValidIpExpression,
} from '../../src/acl/index.js';
import { Perm } from '../../src/jute/constants.js';
import type { ACL, Id } from '../../src/jute/records.js';

const acl = (perms: number, scheme: string, id: string): ACL => ({ perms, id: { scheme, id } });
const ip = (id: string): Id => ({ scheme: 'ip', id });
const digest = (userPass: string): Id => ({ scheme: 'digest', id: digestId(userPass) });

test('digestId is user:base64(sha1(user:password))', () => {
  const expected = 'bob:' + createHash('sha1').update('bob:secret').digest('base64');
  assert.equal(digestId('bob:secret'), expected);
  assert.equal(digestId('nocolon'), 'nocolon:' + createHash('sha1').update('nocolon').digest('base64'));
  assert.equal(digestId('a:b:c').split(':')[0], 'a');
});

test('checkAcl: empty ACL, world, digest, super, perms', () => {
  const bob = digest('bob:pw');
  const nodeAcl = [acl(Perm.READ, 'world', 'anyone'), acl(Perm.ALL, 'digest', bob.id)];
  assert.equal(checkAcl([], Perm.ADMIN, []), true);
  assert.equal(checkAcl(null, Perm.ADMIN, []), true);
  assert.equal(checkAcl(nodeAcl, Perm.READ, []), true);
  assert.equal(checkAcl(nodeAcl, Perm.WRITE, []), false);
  assert.equal(checkAcl(nodeAcl, Perm.WRITE, [bob]), true);
  assert.equal(checkAcl(nodeAcl, Perm.WRITE, [digest('bob:wrong')]), false);
  assert.equal(checkAcl(nodeAcl, Perm.WRITE, [{ scheme: 'super', id: '' }]), true);
  assert.equal(checkAcl(nodeAcl, Perm.WRITE, [], { skipACL: true }), true);
  assert.equal(checkAcl([acl(Perm.READ, 'world', 'someone')], Perm.READ, []), false);
  assert.equal(checkAcl([acl(Perm.ALL, 'unknown', 'x')], Perm.READ, [{ scheme: 'unknown', id: 'x' }]), false);
});

test('ip ACLs match IPv4 and IPv6 addresses and CIDR prefixes', () => {
  assert.equal(ipMatches('10.1.2.3', '10.0.0.0/8'), true);
  assert.equal(ipMatches('11.1.2.3', '10.0.0.0/8'), false);
  assert.equal(ipMatches('127.0.0.1', '127.0.0.1'), true);
  assert.equal(ipMatches('127.0.0.2', '127.0.0.1'), false);
  assert.equal(ipMatches('192.168.1.130', '192.168.1.128/25'), true);
  assert.equal(ipMatches('192.168.1.127', '192.168.1.128/25'), false);
  assert.equal(ipMatches('1.2.3.4', '0.0.0.0/0'), true);
  assert.equal(ipMatches('::1', '0:0:0:0:0:0:0:1'), true);
  assert.equal(ipMatches('2001:db8::5', '2001:db8::/32'), true);
  assert.equal(ipMatches('2001:db9::5', '2001:db8::/32'), false);
  assert.equal(ipMatches('fe80::1:2', 'fe80::/64'), true);
  assert.equal(ipMatches('10.0.0.1', '::/0'), false); // families never match
  assert.equal(ipMatches('10.0.0.1', '10.0.0.0/33'), false);
  assert.equal(ipMatches('10.0.0.1', 'garbage'), false);
  const nodeAcl = [acl(Perm.READ, 'ip', '10.0.0.0/8')];
  assert.equal(checkAcl(nodeAcl, Perm.READ, [ip('10.9.9.9')]), true);
  assert.equal(checkAcl(nodeAcl, Perm.READ, [ip('9.9.9.9')]), false);
});

test('ip expression validity follows ZooKeeper', () => {
  for (const ok of ['1.2.3.4', '1.2.3.4/0', '1.2.3.4/32', '::1', '::', '1::', '1:2:3:4:5:6:7:8', 'a::b/128']) {
    assert.equal(isValidIpExpression(ok), true, ok);
  }
  for (const bad of ['1.2.3', '1.2.3.256', '1.2.3.4/33', '1.2.3.4/x', 'host', '1:2:3:4:5:6:7', '1::2::3', '12345::', '1:2:3:4:5:6:7::8', '::ffff:1.2.3.4']) {
    assert.equal(isValidIpExpression(bad), false, bad);
  }
});

test('ipAuthId prints a socket address as Java would', () => {
  assert.equal(ipAuthId('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(ipAuthId('10.0.0.1'), '10.0.0.1');
  assert.equal(ipAuthId('fe80::1%eth0'), 'fe80::1');
});

test('fixupAcl validates, dedups and expands auth', () => {
  const bob = digest('bob:pw');
  assert.deepEqual(fixupAcl(OPEN_ACL_UNSAFE, []), [...OPEN_ACL_UNSAFE]);
  assert.equal(fixupAcl([], []), null);
  assert.equal(fixupAcl(null, []), null);
  const twice = [acl(Perm.READ, 'world', 'anyone'), acl(Perm.READ, 'world', 'anyone'), acl(Perm.ALL, 'world', 'anyone')];
  assert.deepEqual(fixupAcl(twice, []), [acl(Perm.READ, 'world', 'anyone'), acl(Perm.ALL, 'world', 'anyone')]);
  // auth expands to authenticated ids (digest), never to ip or super.
  assert.deepEqual(fixupAcl([acl(Perm.ALL, 'auth', '')], [ip('1.2.3.4'), bob, { scheme: 'super', id: '' }]), [
    acl(Perm.ALL, 'digest', bob.id),
  ]);
  assert.equal(fixupAcl([acl(Perm.ALL, 'auth', '')], [ip('1.2.3.4')]), null);
  assert.equal(fixupAcl([acl(Perm.ALL, 'world', 'someone')], []), null);
  assert.equal(fixupAcl([acl(Perm.ALL, 'digest', 'nocolon')], []), null);
  assert.deepEqual(fixupAcl([acl(Perm.ALL, 'digest', 'u:hash')], []), [acl(Perm.ALL, 'digest', 'u:hash')]);
  assert.equal(fixupAcl([acl(Perm.ALL, 'ip', '10.0.0.0/40')], []), null);
  assert.deepEqual(fixupAcl([acl(Perm.ALL, 'ip', '10.0.0.0/8')], []), [acl(Perm.ALL, 'ip', '10.0.0.0/8')]);
  // sasl ids are Kerberos-style names: an '@' only before the realm.
  assert.deepEqual(fixupAcl([acl(Perm.ALL, 'sasl', 'bob')], []), [acl(Perm.ALL, 'sasl', 'bob')]);
  assert.equal(fixupAcl([acl(Perm.ALL, 'sasl', 'a@b@c')], []), null);
  assert.deepEqual(fixupAcl([acl(Perm.ALL, 'auth', '')], [ip('1.2.3.4'), { scheme: 'sasl', id: 'bob' }]), [acl(Perm.ALL, 'sasl', 'bob')]);
});

test('digest ids: exactly two parts after Java split', () => {
  assert.equal(isValidDigestId('u:h'), true);
  assert.equal(isValidDigestId(':h'), true);
  assert.equal(isValidDigestId('u:h:'), true); // trailing empty parts are dropped
  assert.equal(isValidDigestId('u:'), false);
  assert.equal(isValidDigestId('u:h:x'), false);
  assert.equal(isValidDigestId('u'), false);
});

test('authenticate: digest always succeeds, super when it matches, unknown schemes fail', () => {
  const superDigest = digestId('super:admin');
  assert.deepEqual(authenticate('digest', Buffer.from('bob:pw'), superDigest), [digest('bob:pw')]);
  assert.deepEqual(authenticate('digest', Buffer.from('super:admin'), superDigest), [
    { scheme: 'super', id: '' },
    { scheme: 'digest', id: superDigest },
  ]);
  assert.deepEqual(authenticate('digest', Buffer.from('super:admin'), null), [digest('super:admin')]);
  assert.equal(authenticate('nope', Buffer.from('x'), null), null);
  assert.equal(authenticate('world', Buffer.from('anyone'), null), null);
  assert.deepEqual(authenticate('ip', Buffer.alloc(0), null, '::ffff:10.0.0.1'), [ip('10.0.0.1')]);
});
