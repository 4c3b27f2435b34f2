/** The raw test client itself, against in-process Paddock: handshake, FIFO xids, transcript order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventType, OpCode, Perm, type MultiResult } from '../../src/jute/index.js';
import { startServer } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { RawClient } from '../support/rawclient.js';

const OPEN = [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }];

test('raw client: handshake, pipelined replies in order, events before later replies, close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-raw-'));
  const srv = await startServer(
    { clientPort: 0, clientPortAddress: '127.0.0.1', dataDir: dir, dataLogDir: dir },
    { logger: silentLogger },
  );
  try {
    const a = await RawClient.connect('127.0.0.1', srv.port, { timeoutMs: 10_000 });
    const b = await RawClient.connect('127.0.0.1', srv.port, { timeoutMs: 10_000 });
    assert.equal(a.session.timeOut, 10_000);
    assert.notEqual(a.sessionId, b.sessionId);
    assert.equal(a.session.passwd?.length, 16);

    // Pipelined: all sent before any reply; replies come back FIFO with increasing xids.
    const replies = await Promise.all([
      a.send({ type: OpCode.create, path: '/r', data: Buffer.from('x'), acl: OPEN, flags: 0, ttl: -1 }),
      a.send({ type: OpCode.getData, path: '/r', watch: true }),
      a.send({ type: OpCode.create, path: '/r', data: null, acl: OPEN, flags: 0, ttl: -1 }),
      a.send({ type: OpCode.getChildren, path: '/', watch: false }),
    ]);
    assert.deepEqual(replies.map((r) => r.header.xid), [1, 2, 3, 4]);
    assert.deepEqual(replies.map((r) => r.header.err), [0, 0, -110, 0]);
    assert.deepEqual((replies[0]!.body as { path: string }).path, '/r');
    assert.equal(replies[2]!.body, null, 'no body on error');

    // b's write fires a's watch; a's next reply must come after the event.
    await b.send({ type: OpCode.setData, path: '/r', data: Buffer.from('y'), version: -1 });
    const after = await a.send({ type: OpCode.exists, path: '/r', watch: false });
    const kinds = a.transcript.map((e) => (e.kind === 'reply' ? `reply ${e.xid}` : e.kind === 'event' ? `event ${e.event.type} ${e.event.path}` : e.kind));
    assert.deepEqual(kinds, ['reply 1', 'reply 2', 'reply 3', 'reply 4', `event ${EventType.NodeDataChanged} /r`, `reply ${after.header.xid}`]);
    assert.equal(a.events.length, 1);

    // multi results, ping, auth on its own xid.
    const multi = await a.send({
      type: OpCode.multi,
      ops: [
        { type: OpCode.check, path: '/r', version: 1 },
        { type: OpCode.delete, path: '/r', version: 5 },
      ],
    });
    assert.equal(multi.header.err, 0);
    assert.deepEqual((multi.body as MultiResult[]).map((r) => r.err), [0, -103]);
    assert.equal((await a.ping()).header.xid, -2);
    const auth = await a.send({ type: OpCode.auth, authType: 0, scheme: 'digest', auth: Buffer.from('u:p') });
    assert.equal(auth.header.xid, -4);
    assert.equal(auth.header.err, 0);

    await a.close();
    await b.close();
    assert.ok(a.closedReason);
    await assert.rejects(a.send({ type: OpCode.sync, path: '/' }));
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
