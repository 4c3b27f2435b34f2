/** The pure parts of the shell and status: formats, ACL parsing, tokenizing, options, zoo.cfg targets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aclLines, describeData, javaDate, parseAcl, statLines } from '../../src/cli/shell/format.js';
import { CliError, parseOptions, tokenize } from '../../src/cli/shell/options.js';
import { targetsFromZooCfg } from '../../src/cli/shell/status.js';
import { cliMessage } from '../../src/cli/shell/errors.js';
import { BadVersionError, KeeperError } from '../../src/index.js';

test('Stat lines: zxids and owner in hex (two\'s complement when negative), Java dates', () => {
  const lines = statLines({ czxid: 0x1fn, mzxid: 2n, pzxid: 3n, ctime: 0, mtime: 0, version: 4, cversion: 5, aversion: 6, ephemeralOwner: -1n, dataLength: 7, numChildren: 8 });
  assert.equal(lines[0], 'cZxid = 0x1f');
  assert.equal(lines[8], 'ephemeralOwner = 0xffffffffffffffff');
  assert.deepEqual(lines.slice(5), ['cversion = 5', 'dataVersion = 4', 'aclVersion = 6', 'ephemeralOwner = 0xffffffffffffffff', 'dataLength = 7', 'numChildren = 8']);
  assert.match(javaDate(Date.UTC(2026, 10, 5, 3, 4, 5)), /^Thu Nov 0\d \d\d:04:05 \S+ 2026$/);
});

test('ACLs: zkCli\'s lines, and parsing scheme:id:perms with colons in the id', () => {
  assert.deepEqual(aclLines([{ perms: 31, id: { scheme: 'world', id: 'anyone' } }]), ["'world,'anyone", ': cdrwa']);
  const warnings: string[] = [];
  const acl = parseAcl('digest:u:abc=:rw,ip:10.0.0.1:cdrwa,bogus,world:anyone:rq', (w) => warnings.push(w));
  assert.deepEqual(acl, [
    { id: { scheme: 'digest', id: 'u:abc=' }, perms: 3 },
    { id: { scheme: 'ip', id: '10.0.0.1' }, perms: 31 },
    { id: { scheme: 'world', id: 'anyone' }, perms: 1 },
  ]);
  assert.deepEqual(warnings, ['bogus does not have the form scheme:id:perm', 'Unknown perm type: q']);
});

test('tokenize keeps quoted words whole; options anywhere, negative numbers are arguments', () => {
  assert.deepEqual(tokenize(`create /a "x y" 'p q' z`), ['create', '/a', 'x y', 'p q', 'z']);
  const p = parseOptions(['/a', '-1', '-v', '3', '-s'], { flags: 's', withValue: 'v' });
  assert.deepEqual(p.args, ['/a', '-1']);
  assert.equal(p.opts.get('v'), '3');
  assert.equal(p.opts.get('s'), true);
  assert.throws(() => parseOptions(['-x'], {}), (e: unknown) => e instanceof CliError && e.message.endsWith('Unrecognized option: -x'));
});

test('error messages: zkCli\'s wording per code, KeeperException\'s otherwise', () => {
  assert.equal(cliMessage(new BadVersionError('/a')), 'version No is not valid : /a');
  assert.equal(cliMessage(new KeeperError(-123)), 'KeeperErrorCode = Reconfig is disabled');
  assert.equal(cliMessage(new KeeperError(-121, '/w')), 'KeeperErrorCode = No such watcher for /w');
});

test('data shown as it looks: JSON, text, hex', () => {
  assert.equal(describeData(Buffer.from('[1,2]')).kind, 'json');
  assert.equal(describeData(Buffer.from('{not json')).kind, 'text');
  assert.equal(describeData(Buffer.from([0xff, 0xfe])).kind, 'hex');
});

test('status targets from a zoo.cfg: ;port suffix, address in the suffix, clientPort fallback, standalone', () => {
  const ensemble = ['clientPort=2181', 'server.1=zk1:2888:3888;2191', 'server.2=zk2:2888:3888:participant;10.0.0.2:2192', 'server.3=zk3:2888:3888', 'server.4=[::1]:2888:3888;0.0.0.0:2194'].join('\n');
  assert.deepEqual(targetsFromZooCfg(ensemble), [
    { id: '1', host: 'zk1', port: 2191 },
    { id: '2', host: '10.0.0.2', port: 2192 },
    { id: '3', host: 'zk3', port: 2181 },
    { id: '4', host: '::1', port: 2194 },
  ]);
  assert.deepEqual(targetsFromZooCfg('clientPort=2299\nclientPortAddress=127.0.0.2\n'), [{ id: null, host: '127.0.0.2', port: 2299 }]);
});

test('status targets on one host without ;port suffixes: only this server (myid) has clientPort, the others are not guessed', () => {
  const oneHost = ['clientPort=2181', 'server.1=127.0.0.1:2888:3888', 'server.2=127.0.0.1:2889:3889', 'server.3=127.0.0.1:2890:3890;2183'].join('\n');
  const targets = targetsFromZooCfg(oneHost, '1');
  assert.deepEqual(targets.map((t) => [t.id, t.port, t.unknown === undefined]), [['1', 2181, true], ['2', 2181, false], ['3', 2183, true]]);
  assert.match(targets[1]!.unknown!, /server\.2 shares host 127\.0\.0\.1 and has no ';clientPort' suffix/);
});
