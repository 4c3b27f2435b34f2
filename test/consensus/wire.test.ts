import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JuteError } from '../../src/jute/binary.js';
import {
  decodeIntPayload,
  decodeLearnerInfo,
  decodeNotification,
  decodePreamble,
  decodeQuorumPacket,
  encodeIntPayload,
  encodeLearnerInfo,
  encodeNotification,
  encodePreamble,
  encodeQuorumPacket,
  encodeQuorumPackets,
  packetTypeName,
  PacketType,
  PROTOCOL_VERSION_V1,
  PROTOCOL_VERSION_V2,
  quorumPacketLength,
  ServerState,
  splitHostPort,
  type Notification,
  type QuorumPacket,
} from '../../src/consensus/wire.js';
import { quorumConfigText } from '../../src/consensus/members.js';
import { counterExhausted, counterOf, epochOf, LONG_MIN, makeZxid, nextZxid, zxidToHex, zxidToNumber } from '../../src/consensus/zxid.js';

/**
 * What Apache ZooKeeper 3.8.0 (sid 3, election port 40171) wrote on connecting to a peer's
 * election port at startup: the V1 preamble, then one framed notification (LOOKING, voting
 * for itself with zxid 0 in round 1) with its config. Captured with a TCP listener playing
 * sids 1 and 2; interop.test.ts repeats the capture live against the installed server.
 */
const CAPTURED_PREAMBLE =
  'ffffffffffff000000000000000000030000000f3132372e302e302e313a3430313731';
const CAPTURED_NOTIFICATION =
  '00000000000000000000000300000000000000000000000000000001000000000000000000000002' +
  '0000008a7365727665722e313d3132372e302e302e313a34333638313a34343334333a7061727469' +
  '636970616e740a7365727665722e323d3132372e302e302e313a34363334393a34333635313a7061' +
  '727469636970616e740a7365727665722e333d3132372e302e302e313a33393137333a3430313731' +
  '3a7061727469636970616e740a76657273696f6e3d30';

test('zxids pack (epoch, counter) into 64 bits and back', () => {
  const z = makeZxid(5n, 7n);
  assert.equal(z, 0x5_0000_0007n);
  assert.equal(epochOf(z), 5n);
  assert.equal(counterOf(z), 7n);
  assert.equal(zxidToHex(z), '0x500000007');
  const top = makeZxid(0xffffffffn, 0xffffffffn);
  assert.equal(top, -1n, 'the largest epoch and counter fill the sign bit, as a Java long');
  assert.equal(epochOf(-1n), -1n, 'an arithmetic shift, as ZxidUtils.getEpochFromZxid');
  assert.equal(zxidToHex(LONG_MIN), '0x8000000000000000');
  const last = makeZxid(3n, 0xffffffffn);
  assert.ok(counterExhausted(last));
  assert.throws(() => nextZxid(last), /no successor/);
  assert.equal(nextZxid(makeZxid(3n, 1n)), makeZxid(3n, 2n));
  assert.throws(() => makeZxid(1n, 0x1_0000_0000n), /counter/);
  assert.equal(zxidToNumber(makeZxid(0x1fffffn, 0xffffffffn)), 2 ** 53 - 1);
  assert.throws(() => zxidToNumber(makeZxid(0x200000n, 0n)), /does not fit/);
});

test('the captured preamble decodes and re-encodes byte for byte', () => {
  const bytes = Buffer.from(CAPTURED_PREAMBLE, 'hex');
  const result = decodePreamble(bytes);
  assert.equal(result.kind, 'ok');
  if (result.kind !== 'ok') return;
  assert.deepEqual(result.preamble, { protocolVersion: PROTOCOL_VERSION_V1, sid: 3n, addresses: ['127.0.0.1:40171'] });
  assert.equal(result.bytes, bytes.length);
  assert.deepEqual(encodePreamble(result.preamble), bytes);
});

test('a preamble is parsed from a stream a byte at a time and in every accepted form', () => {
  const v2 = encodePreamble({ protocolVersion: PROTOCOL_VERSION_V2, sid: 9n, addresses: ['10.0.0.1:3888', '[::1]:3889'] });
  for (let i = 0; i < v2.length; i++) assert.equal(decodePreamble(v2.subarray(0, i)).kind, 'incomplete', `prefix ${i}`);
  const whole = decodePreamble(Buffer.concat([v2, Buffer.from([1, 2, 3])]));
  assert.deepEqual(whole, {
    kind: 'ok',
    preamble: { protocolVersion: PROTOCOL_VERSION_V2, sid: 9n, addresses: ['10.0.0.1:3888', '[::1]:3889'] },
    bytes: v2.length,
  });
  // Before 3.5 the first long was the sid itself, and nothing followed.
  const old = encodePreamble({ protocolVersion: null, sid: 4n, addresses: [] });
  assert.equal(old.length, 8);
  assert.deepEqual(decodePreamble(old), { kind: 'ok', preamble: { protocolVersion: null, sid: 4n, addresses: [] }, bytes: 8 });
});

test('bad preambles are errors, never crashes or huge allocations', () => {
  const withLength = (version: bigint, length: number, text = ''): Buffer => {
    const b = Buffer.alloc(20 + Buffer.byteLength(text));
    b.writeBigInt64BE(version, 0);
    b.writeBigInt64BE(1n, 8);
    b.writeInt32BE(length, 16);
    b.write(text, 20);
    return b;
  };
  assert.match((decodePreamble(withLength(-7n, 4, 'a:1')) as { message: string }).message, /unrecognized protocol version/);
  assert.match((decodePreamble(withLength(PROTOCOL_VERSION_V1, 0)) as { message: string }).message, /unreasonable/);
  assert.match((decodePreamble(withLength(PROTOCOL_VERSION_V1, 2049)) as { message: string }).message, /unreasonable/);
  assert.match((decodePreamble(withLength(PROTOCOL_VERSION_V1, -1)) as { message: string }).message, /unreasonable/);
  for (const bad of ['host', 'host:', 'a:b:c', 'host:99999', 'host:port', '[::1]3888']) {
    const text = bad;
    const r = decodePreamble(withLength(PROTOCOL_VERSION_V1, Buffer.byteLength(text), text));
    assert.equal(r.kind, 'error', bad);
  }
  assert.deepEqual(splitHostPort('[fe80::1]:2888'), { host: 'fe80::1', port: 2888 });
});

test('the captured notification decodes, re-encodes byte for byte, and carries ZooKeeper\'s config text', () => {
  const bytes = Buffer.from(CAPTURED_NOTIFICATION, 'hex');
  const n = decodeNotification(bytes);
  assert.ok(!('error' in n));
  assert.equal(n.state, ServerState.LOOKING);
  assert.equal(n.leader, 3n);
  assert.equal(n.zxid, 0n);
  assert.equal(n.electionEpoch, 1n);
  assert.equal(n.peerEpoch, 0n);
  assert.equal(n.version, 2);
  assert.deepEqual(encodeNotification(n), bytes);
  const config = quorumConfigText(
    [
      { sid: 1n, type: 'participant', host: '127.0.0.1', quorumPort: 43681, electionPort: 44343 },
      { sid: 2n, type: 'participant', host: '127.0.0.1', quorumPort: 46349, electionPort: 43651 },
      { sid: 3n, type: 'participant', host: '127.0.0.1', quorumPort: 39173, electionPort: 40171 },
    ],
    0n,
  );
  assert.equal(n.config?.toString('utf8'), config);
});

test('legacy notification forms decode as ZooKeeper\'s receiver reads them', () => {
  const n: Notification = {
    state: ServerState.FOLLOWING,
    leader: 2n,
    zxid: makeZxid(6n, 10n),
    electionEpoch: 4n,
    peerEpoch: 5n,
    version: 1,
    config: null,
  };
  const b28 = encodeNotification(n, 28);
  assert.equal(b28.length, 28);
  assert.deepEqual(decodeNotification(b28), { ...n, peerEpoch: 6n, version: 0 }, 'peerEpoch comes from the zxid');
  const b40 = encodeNotification(n, 40);
  assert.equal(b40.length, 40);
  assert.deepEqual(decodeNotification(b40), { ...n, version: 0 }, 'at 40 bytes the version field is not read');
  const b44 = Buffer.concat([b40, Buffer.alloc(4)]);
  assert.deepEqual(decodeNotification(b44), n, 'version 1 over 40 bytes: read, and no config follows');
  const withTrailer = Buffer.concat([b44, Buffer.from([9, 9, 9])]);
  assert.deepEqual(decodeNotification(withTrailer), n, 'trailing bytes are ignored');
  const v2 = { ...n, version: 2, config: Buffer.from('server.1=a:1:2:participant\nversion=0') };
  assert.deepEqual(decodeNotification(encodeNotification(v2)), v2);
  // A version above 2 is read like 2: a config follows.
  const v3 = { ...v2, version: 3 };
  assert.deepEqual(decodeNotification(encodeNotification(v3)), v3);
});

test('malformed notifications are errors', () => {
  const good = encodeNotification({
    state: 0,
    leader: 1n,
    zxid: 0n,
    electionEpoch: 1n,
    peerEpoch: 0n,
    version: 2,
    config: Buffer.from('version=0'),
  });
  assert.ok('error' in decodeNotification(good.subarray(0, 27)));
  assert.ok('error' in decodeNotification(good.subarray(0, 36)), 'between 28 and 40 the version read underflows');
  assert.ok('error' in decodeNotification(good.subarray(0, 46)), 'the config length is cut');
  assert.ok('error' in decodeNotification(good.subarray(0, good.length - 1)), 'the config is cut');
  const negative = Buffer.from(good);
  negative.writeInt32BE(-5, 40);
  assert.ok('error' in decodeNotification(negative));
  const huge = Buffer.from(good);
  huge.writeInt32BE(0x7fffffff, 40);
  assert.ok('error' in decodeNotification(huge));
});

test('quorum packets round-trip, null and empty fields kept apart, and stream lengths are found', () => {
  const packets: QuorumPacket[] = [
    { type: PacketType.PING, zxid: makeZxid(1n, 5n), data: null, authinfo: null },
    { type: PacketType.PROPOSAL, zxid: makeZxid(2n, 1n), data: Buffer.from([1, 2, 3]), authinfo: null },
    { type: PacketType.ACK, zxid: 0n, data: Buffer.alloc(0), authinfo: [] },
    {
      type: PacketType.REQUEST,
      zxid: -1n,
      data: Buffer.from('request'),
      authinfo: [
        { scheme: 'digest', id: 'user:hash' },
        { scheme: 'ip', id: '127.0.0.1' },
      ],
    },
  ];
  const stream = Buffer.concat(packets.map(encodeQuorumPacket));
  let at = 0;
  for (const p of packets) {
    for (let cut = at; cut < at + encodeQuorumPacket(p).length; cut++) {
      assert.equal(quorumPacketLength(stream.subarray(0, cut), at), null, `cut at ${cut}`);
    }
    const len = quorumPacketLength(stream, at);
    assert.equal(len, encodeQuorumPacket(p).length);
    assert.deepEqual(decodeQuorumPacket(stream.subarray(at, at + len!)), p);
    at += len!;
  }
  assert.equal(encodeQuorumPacket(packets[0]!).toString('hex'), '00000005' + '0000000100000005' + 'ffffffff' + 'ffffffff');
  assert.throws(() => decodeQuorumPacket(Buffer.concat([encodeQuorumPacket(packets[0]!), Buffer.from([0])])), JuteError);
  const bad = encodeQuorumPacket(packets[1]!);
  bad.writeInt32BE(-2, 12);
  assert.throws(() => quorumPacketLength(bad), JuteError);
  bad.writeInt32BE(0x7ffffff0, 12);
  assert.throws(() => quorumPacketLength(bad), JuteError);
  assert.throws(() => decodeQuorumPacket(bad), JuteError);
  assert.equal(packetTypeName(PacketType.FOLLOWERINFO), 'FOLLOWERINFO');
  assert.equal(packetTypeName(42), 'UNKNOWN42');
});

test('a batch of quorum packets encodes as the same packets one after another', () => {
  const plain: QuorumPacket[] = [
    { type: PacketType.PROPOSAL, zxid: makeZxid(3n, 7n), data: Buffer.from('txn bytes'), authinfo: null },
    { type: PacketType.COMMIT, zxid: makeZxid(3n, 7n), data: null, authinfo: null },
    { type: PacketType.UPTODATE, zxid: -1n, data: Buffer.alloc(0), authinfo: null },
    // Zxids around the 32-bit halves and past the safe integers take the same bytes.
    { type: PacketType.PING, zxid: 0xffffffffn, data: null, authinfo: null },
    { type: PacketType.PING, zxid: 0x1_0000_0000n, data: null, authinfo: null },
    { type: PacketType.COMMIT, zxid: 0x7fff_ffff_ffff_fff0n, data: null, authinfo: null },
  ];
  assert.deepEqual(encodeQuorumPackets(plain), Buffer.concat(plain.map(encodeQuorumPacket)));
  const withAuth: QuorumPacket[] = [...plain, { type: PacketType.REQUEST, zxid: 0n, data: Buffer.from('r'), authinfo: [{ scheme: 'ip', id: '127.0.0.1' }] }];
  assert.deepEqual(encodeQuorumPackets(withAuth), Buffer.concat(withAuth.map(encodeQuorumPacket)));
  assert.equal(encodeQuorumPackets([]).length, 0);
});

test('LearnerInfo is read in its 8-, 12- and 20-byte forms', () => {
  const full = encodeLearnerInfo({ serverid: 3n, protocolVersion: 0x10000, configVersion: 0n });
  assert.equal(full.toString('hex'), '0000000000000003' + '00010000' + '0000000000000000');
  assert.deepEqual(decodeLearnerInfo(full), { serverid: 3n, protocolVersion: 0x10000, configVersion: 0n });
  assert.deepEqual(decodeLearnerInfo(full.subarray(0, 12)), { serverid: 3n, protocolVersion: 0x10000, configVersion: null });
  assert.deepEqual(decodeLearnerInfo(full.subarray(0, 8)), { serverid: 3n, protocolVersion: 0, configVersion: null });
  assert.ok('error' in decodeLearnerInfo(full.subarray(0, 7)));
  assert.ok('error' in decodeLearnerInfo(null));
  assert.equal(decodeIntPayload(encodeIntPayload(0x10000)), 0x10000);
  assert.equal(decodeIntPayload(encodeIntPayload(-1)), -1);
  assert.ok(typeof decodeIntPayload(Buffer.alloc(2)) === 'object');
});
