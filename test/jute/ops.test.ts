import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JuteError, JuteReader, JuteWriter } from '../../src/jute/binary.js';
import { OpCode } from '../../src/jute/constants.js';
import { isClientOp, isWriteOp, opSpec, Ops, readRequest, readTxnBody, responseCodec, UnknownOpError, writeRequest, writeTxnBody } from '../../src/jute/ops.js';
import type { Request } from '../../src/jute/requests.js';
import type { TxnBody } from '../../src/jute/txn.js';

const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

test('every opcode has one table entry under its own name and code', () => {
  for (const [name, code] of Object.entries(OpCode)) {
    const spec = opSpec(code);
    assert.ok(spec, `${name} has an entry`);
    assert.equal(spec.name, name);
    assert.equal(spec.code, code);
  }
  assert.equal(opSpec(99), undefined);
  assert.equal(opSpec(1 << 30), undefined);
  assert.equal(opSpec(-(1 << 30)), undefined);
});

test('the table is consistent: writes are logged, multi members match the multi kind', () => {
  for (const spec of Object.values(Ops)) {
    if (spec.kind === 'write' || spec.kind === 'session') assert.ok(spec.txn, `${spec.name} is logged`);
    if (spec.inMulti === 'write') assert.equal(spec.kind, 'write', spec.name);
    if (spec.inMulti === 'read') assert.equal(spec.kind, 'read', spec.name);
    if (spec.client && spec.kind !== 'none') assert.ok(spec.request, `${spec.name} has a request codec`);
  }
});

test('isWriteOp and isClientOp keep the sets ZooKeeper uses', () => {
  const writes = Object.values(OpCode).filter(isWriteOp).sort((a, b) => a - b);
  assert.deepEqual(writes, [-11, -10, 1, 2, 5, 7, 13, 14, 15, 16, 19, 20, 21]);
  const refused = Object.values(OpCode).filter((c) => !isClientOp(c)).sort((a, b) => a - b);
  assert.deepEqual(refused, [-10, -1, 0, 13, 20]);
  assert.equal(isClientOp(99), true, 'an unknown opcode fails when it is decoded, not here');
});

test('requests round-trip through the table, a multi included', () => {
  const requests: Request[] = [
    { type: OpCode.create2, path: '/a', data: Buffer.from('x'), acl: OPEN, flags: 1, ttl: -1 },
    { type: OpCode.createTTL, path: '/t', data: null, acl: OPEN, flags: 5, ttl: 1000 },
    { type: OpCode.delete, path: '/a', version: 3 },
    { type: OpCode.getData, path: '/a', watch: true },
    { type: OpCode.setACL, path: '/a', acl: OPEN, version: -1 },
    { type: OpCode.removeWatches, path: '/a', watcherType: 3 },
    { type: OpCode.auth, authType: 0, scheme: 'digest', auth: Buffer.from('u:p') },
    { type: OpCode.whoAmI },
    {
      type: OpCode.multi,
      ops: [
        { type: OpCode.create, path: '/m', data: null, acl: OPEN, flags: 0, ttl: -1 },
        { type: OpCode.check, path: '/m', version: 0 },
      ],
    },
  ];
  for (const req of requests) {
    const w = new JuteWriter();
    writeRequest(w, req);
    const bytes = w.bytes();
    const r = new JuteReader(bytes);
    const back = readRequest(req.type, r);
    assert.deepEqual(back, req);
    assert.equal(r.remaining(), 0, `${opSpec(req.type)?.name} reads all it wrote`);
  }
});

test('an opcode outside the table, or one no client sends, is UnknownOpError; a foreign op in a multi is a JuteError', () => {
  for (const code of [99, OpCode.createSession, OpCode.notification, OpCode.error]) {
    assert.throws(() => readRequest(code, new JuteReader(Buffer.alloc(0))), UnknownOpError);
  }
  const w = new JuteWriter();
  w.int(OpCode.setACL).bool(false).int(-1);
  assert.throws(() => readRequest(OpCode.multi, new JuteReader(w.bytes())), (e: unknown) => e instanceof JuteError && !(e instanceof UnknownOpError));
});

test('txn bodies round-trip through the table, and a multi result reply through its codec', () => {
  const bodies: TxnBody[] = [
    { type: OpCode.create, path: '/a', data: null, acl: OPEN, ephemeral: true, parentCVersion: 4 },
    { type: OpCode.closeSession, paths2Delete: ['/e1', '/e2'] },
    { type: OpCode.multi, txns: [{ type: OpCode.delete, path: '/a' }, { type: OpCode.error, err: -101 }] },
  ];
  for (const body of bodies) {
    const w = new JuteWriter();
    writeTxnBody(w, body);
    assert.deepEqual(readTxnBody(body.type, new JuteReader(w.bytes())), body);
  }
  assert.throws(() => readTxnBody(OpCode.getData, new JuteReader(Buffer.alloc(0))), JuteError);
  const codec = responseCodec(OpCode.multiRead);
  assert.ok(codec);
  const results = [
    { type: OpCode.getChildren, err: 0, body: { children: ['a', 'b'] } },
    { type: OpCode.error, err: -101, body: null },
  ];
  const w = new JuteWriter();
  codec.write(w, results);
  assert.deepEqual(codec.read(new JuteReader(w.bytes())), results);
});
