/**
 * Wire fuzzing: many connections send random and mutated frames; each must get well-formed
 * replies (with the expected error code where one is determinable) or be closed by the server.
 * Afterwards a fresh client must work, the server's connection count must return to zero, and
 * its heap must not have grown without bound.
 *
 *   FUZZ_SEED (1)          seed of the storm (each connection derives its own)
 *   FUZZ_CONNECTIONS (60)  number of connections
 *   FUZZ_TARGET            'zookeeper' runs the storm against Apache ZooKeeper, to learn what it does
 *   FUZZ_VERBOSE           1 prints each connection's scenario and outcome
 *
 * Expected codes were learned from Apache ZooKeeper 3.8.0: unknown opcode -> UNIMPLEMENTED then close;
 * a truncated or garbled record -> MARSHALLINGERROR, connection kept; a frame length < 0, = 0, too
 * short for a header, or > jute.maxbuffer -> close; an invalid path in create -> BADARGUMENTS (or
 * NONODE when the parent check comes first). ZooKeeper decodes invalid UTF-8 leniently (U+FFFD);
 * a stricter MARSHALLINGERROR or close is accepted too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Err, JuteWriter, OpCode, Perm, opName, RequestHeader, writeRequest, type Request } from '../../src/jute/index.js';
import { Prng } from '../../src/lib/prng.js';
import { startServer, type PaddockServer } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { connectRequestFrame, RawClient, withTimeout } from '../support/rawclient.js';
import { skipUnlessZooKeeper, startZooKeeper } from '../support/zookeeper.js';

const envInt = (name: string, dflt: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Number.parseInt(v, 10);
};
const SEED = envInt('FUZZ_SEED', 1);
const CONNECTIONS = envInt('FUZZ_CONNECTIONS', 60);
const TARGET = process.env.FUZZ_TARGET === 'zookeeper' ? 'zookeeper' : 'paddock';
const VERBOSE = process.env.FUZZ_VERBOSE === '1';
const MAX_BUFFER = 0xfffff;
const PARALLEL = 10;
const KNOWN_ERRS = new Set<number>(Object.values(Err));
const OPEN_ACL = [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }];

// ---------------------------------------------------------------------------------------------
// Frames

function frame(xid: number, type: number, body?: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter();
  const at = w.beginFrame();
  RequestHeader.write(w, { xid, type });
  body?.(w);
  w.endFrame(at);
  return Buffer.from(w.bytes());
}

function requestFrame(xid: number, req: Request): Buffer {
  return frame(xid, req.type, (w) => writeRequest(w, req));
}

/** A frame whose payload is `payload` (the length prefix is recomputed). */
function reframe(payload: Buffer): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeInt32BE(payload.length, 0);
  payload.copy(b, 4);
  return b;
}

function randomBytes(rng: Prng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

function mutate(rng: Prng, payload: Buffer, from: number): Buffer {
  const b = Buffer.from(payload);
  const flips = 1 + rng.int(4);
  for (let i = 0; i < flips && b.length > from; i++) {
    const at = from + rng.int(b.length - from);
    b[at] = rng.bool(0.5) ? rng.int(256) : b[at]! ^ (1 << rng.int(8));
  }
  return b;
}

/** Valid requests to mutate or truncate; paths under /fuzz. */
function validRequest(rng: Prng): Request {
  const path = rng.pick(['/fuzz', '/fuzz/a', '/fuzz/b/c', '/']);
  switch (rng.int(12)) {
    case 0:
      return { type: OpCode.create, path, data: randomBytes(rng, rng.int(20)), acl: OPEN_ACL, flags: rng.int(4), ttl: -1 };
    case 1:
      return { type: OpCode.createTTL, path, data: null, acl: OPEN_ACL, flags: 5, ttl: 60_000 };
    case 2:
      return { type: OpCode.delete, path, version: -1 };
    case 3:
      return { type: OpCode.setData, path, data: randomBytes(rng, rng.int(20)), version: -1 };
    case 4:
      return { type: rng.pick([OpCode.exists, OpCode.getData, OpCode.getChildren, OpCode.getChildren2]), path, watch: rng.bool() };
    case 5:
      return { type: OpCode.setACL, path, acl: OPEN_ACL, version: -1 };
    case 6:
      return {
        type: OpCode.multi,
        ops: [
          { type: OpCode.create, path: '/fuzz/m', data: null, acl: OPEN_ACL, flags: 0, ttl: -1 },
          { type: OpCode.check, path, version: 0 },
          { type: OpCode.setData, path, data: null, version: -1 },
        ],
      };
    case 7:
      return { type: OpCode.multiRead, ops: [{ type: OpCode.getData, path, watch: false }, { type: OpCode.getChildren, path, watch: false }] };
    case 8:
      return { type: OpCode.addWatch, path, mode: rng.int(2) };
    case 9:
      return { type: rng.pick([OpCode.checkWatches, OpCode.removeWatches]), path, watcherType: 1 + rng.int(3) };
    case 10:
      return {
        type: OpCode.setWatches2,
        relativeZxid: 0,
        dataWatches: [path],
        existWatches: [],
        childWatches: [path],
        persistentWatches: [],
        persistentRecursiveWatches: [path],
      };
    default:
      return { type: rng.pick([OpCode.getACL, OpCode.sync, OpCode.getAllChildrenNumber, OpCode.getEphemerals]), path };
  }
}

const invalidPaths = ['', 'fuzz', '/fuzz/', '/fuzz//a', '/fuzz/./a', '/fuzz/../a', '/fuzz/a\u0000b', '/fuzz/\u0007', '/fuzz/\u{1F600}', '/fuzz/\uFFFE'];
const KNOWN_OPS = new Set<number>(Object.values(OpCode));

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Scenario {
  name: string;
  handshake: boolean;
  /** Bytes to send after the (optional) handshake. */
  bytes: Buffer[];
  /** Xid of the request whose reply is checked, and the codes allowed for it. */
  expectXid?: number;
  expectErrs?: ReadonlySet<number>;
  /** The server must close the connection without being asked. */
  mustClose?: boolean;
  /** The connection must stay usable: a ping sent after `bytes` is answered. */
  mustStayOpen?: boolean;
}

function scenario(rng: Prng): Scenario {
  const k = rng.int(14);
  switch (k) {
    case 0: {
      // Garbage instead of a handshake (not starting with a four-letter word).
      const b = randomBytes(rng, 1 + rng.int(64));
      if (b.length >= 4) b[0] = 0x80 | b[0]!;
      return { name: 'garbage before handshake', handshake: false, bytes: [b] };
    }
    case 1: {
      const len = rng.pick([-1, -0x7fffffff, MAX_BUFFER + 1 + rng.int(1000), 0x7fffffff]);
      const b = Buffer.alloc(4);
      b.writeInt32BE(len, 0);
      return { name: `handshake length ${len}`, handshake: false, bytes: [b], mustClose: true };
    }
    case 2: {
      // A ConnectRequest cut short of its five required fields.
      const full = connectRequestFrame({ timeoutMs: 10_000 }).subarray(4);
      const cut = rng.int(44);
      return { name: `handshake truncated to ${cut} bytes`, handshake: false, bytes: [reframe(full.subarray(0, cut))], mustClose: true };
    }
    case 3: {
      const full = connectRequestFrame({ timeoutMs: 10_000 }).subarray(4);
      return { name: 'handshake mutated', handshake: false, bytes: [reframe(mutate(rng, full, 0))] };
    }
    case 4: {
      const len = rng.pick([-1, -2, 0, 1, 7, MAX_BUFFER + 1 + rng.int(4096), 0x7fffffff]);
      const b = Buffer.alloc(4 + (len > 0 && len < 8 ? len : 0));
      b.writeInt32BE(len, 0);
      return { name: `frame length ${len}`, handshake: true, bytes: [b], mustClose: true };
    }
    case 5: {
      let op: number;
      do op = rng.bool(0.5) ? rng.int(200) - 20 : rng.int(0x7fffffff) - 0x40000000;
      while (KNOWN_OPS.has(op) || op === OpCode.check);
      return {
        name: `unknown opcode ${op}`,
        handshake: true,
        bytes: [frame(1, op, (w) => w.string('/fuzz'))],
        expectXid: 1,
        expectErrs: new Set([Err.UNIMPLEMENTED]),
      };
    }
    case 6: {
      // A valid request cut short (frame length matches the cut payload).
      const req = validRequest(rng);
      const full = requestFrame(1, req).subarray(4);
      const cut = 8 + rng.int(Math.max(1, full.length - 8));
      return {
        name: `truncated ${opName(req.type)} (${cut}/${full.length} bytes)`,
        handshake: true,
        bytes: [reframe(full.subarray(0, cut))],
        expectXid: req.type === OpCode.setWatches2 ? -8 : 1,
        // No record has optional trailing fields, so a strict prefix never parses.
        expectErrs: new Set([Err.MARSHALLINGERROR]),
      };
    }
    case 7: {
      const path = rng.pick(invalidPaths);
      const type = rng.pick([OpCode.create, OpCode.create2, OpCode.createContainer]);
      return {
        name: `create with invalid path ${JSON.stringify(path)}`,
        handshake: true,
        bytes: [requestFrame(1, { type, path, data: null, acl: OPEN_ACL, flags: type === OpCode.createContainer ? 4 : 0, ttl: -1 })],
        expectXid: 1,
        expectErrs: new Set([Err.BADARGUMENTS, Err.NONODE]),
        mustStayOpen: true,
      };
    }
    case 8: {
      // Invalid UTF-8 in a path.
      const bad = rng.pick([[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]);
      const pathBytes = Buffer.concat([Buffer.from('/fuzz/'), Buffer.from(bad)]);
      const create = rng.bool();
      return {
        name: `${create ? 'create' : 'getData'} with invalid UTF-8 path`,
        handshake: true,
        bytes: [
          frame(1, create ? OpCode.create : OpCode.getData, (w) => {
            w.buffer(pathBytes);
            if (create) w.buffer(null).vector(OPEN_ACL, (ww, a) => ww.int(a.perms).string(a.id.scheme).string(a.id.id)).int(0);
            else w.bool(false);
          }),
        ],
        expectXid: 1,
        expectErrs: new Set([Err.BADARGUMENTS, Err.NONODE, Err.MARSHALLINGERROR]),
      };
    }
    case 9: {
      const count = rng.pick([0x7fffffff, 0x10000000, MAX_BUFFER, -2]);
      const kind = rng.int(3);
      const bytes =
        kind === 0
          ? frame(1, OpCode.create, (w) => w.string('/fuzz/v').buffer(null).int(count).int(0))
          : kind === 1
            ? frame(1, OpCode.getData, (w) => w.int(count))
            : frame(-8, OpCode.setWatches, (w) => w.longNumber(0).int(count));
      return {
        name: `huge count ${count} (${['acl vector', 'string length', 'setWatches vector'][kind]})`,
        handshake: true,
        bytes: [bytes],
        expectXid: kind === 2 ? -8 : 1,
        expectErrs: new Set([Err.MARSHALLINGERROR]),
      };
    }
    case 10: {
      const req = validRequest(rng);
      const full = requestFrame(1, req).subarray(4);
      return { name: `mutated ${opName(req.type)}`, handshake: true, bytes: [reframe(mutate(rng, full, 4))] };
    }
    case 11: {
      // Garbage after the handshake, in a well-formed frame or raw.
      const g = randomBytes(rng, 1 + rng.int(200));
      return { name: 'garbage after handshake', handshake: true, bytes: [rng.bool() ? reframe(g) : g] };
    }
    case 12: {
      // A large frame just within or just over the limit.
      const size = rng.bool() ? MAX_BUFFER - rng.int(64) : 256 * 1024 + rng.int(1024);
      const payload = randomBytes(rng, size);
      payload.writeInt32BE(1, 0);
      payload.writeInt32BE(OpCode.setData, 4);
      return { name: `large frame of ${size} bytes`, handshake: true, bytes: [reframe(payload)] };
    }
    default: {
      // Many valid requests pipelined, then one mutated: replies must stay in order.
      const n = 2 + rng.int(20);
      const frames: Buffer[] = [];
      for (let i = 1; i <= n; i++) frames.push(requestFrame(i, validRequest(rng)));
      frames.push(reframe(mutate(rng, requestFrame(n + 1, validRequest(rng)).subarray(4), 4)));
      return { name: `${n} pipelined requests then a mutated one`, handshake: true, bytes: frames };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One connection

interface Outcome {
  replies: { xid: number; err: number; len: number }[];
  closedByServer: boolean;
  pingAnswered: boolean;
  problems: string[];
}

function runConnection(port: number, sc: Scenario): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock: Socket = netConnect({ host: '127.0.0.1', port });
    const out: Outcome = { replies: [], closedByServer: false, pingAnswered: false, problems: [] };
    let buf = Buffer.alloc(0);
    let handshakeDone = !sc.handshake;
    // Without our handshake, the server may take the fuzz bytes for a ConnectRequest and answer one.
    let connectResponsePossible = !sc.handshake;
    let weEnded = false;
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (): void => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearTimeout(t);
      sock.destroy();
      resolve(out);
    };
    const endOurSide = (): void => {
      if (weEnded || finished) return;
      weEnded = true;
      sock.end();
      // After our FIN the server must close too.
      timers.push(
        setTimeout(() => {
          out.problems.push('server did not close the connection within 10 s of the client ending it');
          finish();
        }, 10_000),
      );
    };
    const sendFuzz = (): void => {
      for (const b of sc.bytes) sock.write(b);
      sock.write(frame(-2, OpCode.ping));
      // Wait for the ping reply or a close; then end our side.
      timers.push(setTimeout(endOurSide, sc.mustClose || sc.mustStayOpen ? 10_000 : 2_000));
    };
    sock.on('connect', () => {
      if (sc.handshake) sock.write(connectRequestFrame({ timeoutMs: 10_000 }));
      else sendFuzz();
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const len = buf.readInt32BE(0);
        if (len < 0 || len > MAX_BUFFER) {
          out.problems.push(`reply frame length ${len} out of range`);
          return finish();
        }
        if (buf.length < 4 + len) break;
        const f = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        if (!handshakeDone) {
          handshakeDone = true;
          if (len < 36) out.problems.push(`ConnectResponse of ${len} bytes`);
          sendFuzz();
          continue;
        }
        if (connectResponsePossible) {
          connectResponsePossible = false;
          continue;
        }
        if (len < 16) {
          out.problems.push(`reply frame of ${len} bytes, shorter than a ReplyHeader`);
          continue;
        }
        const xid = f.readInt32BE(0);
        const err = f.readInt32BE(12);
        out.replies.push({ xid, err, len });
        if (!KNOWN_ERRS.has(err)) out.problems.push(`reply xid ${xid} has unknown error code ${err}`);
        if (xid === -2) {
          out.pingAnswered = true;
          endOurSide();
        }
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (!weEnded) out.closedByServer = true;
      if (!handshakeDone && sc.handshake) out.problems.push('closed during a valid handshake');
      finish();
    });
  });
}

function check(sc: Scenario, out: Outcome, sentXids: ReadonlySet<number>): string[] {
  const problems = [...out.problems];
  for (const r of out.replies) {
    if (r.xid !== -1 && !sentXids.has(r.xid)) problems.push(`reply with xid ${r.xid}, never sent`);
  }
  // Replies to normal xids must come in order.
  const normal = out.replies.filter((r) => r.xid > 0).map((r) => r.xid);
  for (let i = 1; i < normal.length; i++) {
    if (normal[i]! <= normal[i - 1]!) problems.push(`replies out of order: xid ${normal[i]} after ${normal[i - 1]}`);
  }
  if (sc.mustClose && !out.closedByServer) problems.push('the server did not close the connection');
  if (sc.mustClose && out.replies.some((r) => r.xid !== -2 && r.xid !== -1)) problems.push('replied to a frame it should have refused');
  if (sc.mustStayOpen && !out.pingAnswered) problems.push('the connection stopped working (ping unanswered)');
  if (sc.expectXid !== undefined && sc.expectErrs) {
    const r = out.replies.find((x) => x.xid === sc.expectXid);
    if (r && !sc.expectErrs.has(r.err)) {
      problems.push(`xid ${sc.expectXid} answered ${r.err}, expected one of ${[...sc.expectErrs].join(', ')}`);
    }
    if (!r && sc.mustStayOpen) problems.push(`no reply to xid ${sc.expectXid}`);
  }
  return problems;
}

function sentXidsOf(sc: Scenario): Set<number> {
  const xids = new Set<number>([-2, -4, -8]);
  for (const b of sc.bytes) {
    for (let at = 0; at + 8 <= b.length; ) {
      const len = b.readInt32BE(at);
      xids.add(b.readInt32BE(at + 4));
      if (len < 4) break;
      at += 4 + len;
    }
  }
  return xids;
}

// ---------------------------------------------------------------------------------------------

function gcFunction(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

async function mntrConnections(port: number): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => s.write('mntr'));
    let t = '';
    s.on('data', (d) => (t += d.toString()));
    s.on('end', () => resolve(t));
    s.on('error', reject);
  });
  const m = /zk_num_alive_connections\s+(\d+)/.exec(text);
  if (!m) throw new Error(`no zk_num_alive_connections in mntr output: ${text.slice(0, 200)}`);
  return Number(m[1]);
}

async function freshClientWorks(port: number): Promise<void> {
  const c = await RawClient.connect('127.0.0.1', port, { timeoutMs: 10_000 });
  try {
    const path = `/fuzz-check-${SEED}`;
    const created = await withTimeout(
      c.send({ type: OpCode.create, path, data: Buffer.from('ok'), acl: OPEN_ACL, flags: 1, ttl: -1 }),
      5_000,
      'create',
    );
    assert.equal(created.header.err, 0, 'create after the storm');
    const got = await withTimeout(c.send({ type: OpCode.getData, path, watch: false }), 5_000, 'getData');
    assert.equal(got.header.err, 0);
    assert.deepEqual((got.body as { data: Buffer }).data, Buffer.from('ok'));
    const del = await withTimeout(c.send({ type: OpCode.delete, path, version: -1 }), 5_000, 'delete');
    assert.equal(del.header.err, 0);
  } finally {
    await c.close();
  }
}

test(`fuzz: ${CONNECTIONS} connections of random and mutated frames against ${TARGET}`, { timeout: 300_000, skip: TARGET === 'zookeeper' ? skipUnlessZooKeeper() : false }, async (t) => {
  let port: number;
  let paddock: PaddockServer | undefined;
  let stop: () => Promise<void>;
  const dir = mkdtempSync(join(tmpdir(), 'paddock-fuzz-'));
  if (TARGET === 'zookeeper') {
    const zk = await startZooKeeper({ config: { extendedTypesEnabled: 'true' } });
    port = zk.port;
    stop = zk.stop;
    // ZooKeeper answers ruok before it serves sessions.
    const { connectWhenServing } = await import('../differential/harness.js');
    (await connectWhenServing({ host: '127.0.0.1', port }, 10_000)).destroy();
  } else {
    paddock = await startServer(
      {
        clientPort: 0,
        clientPortAddress: '127.0.0.1',
        dataDir: dir,
        dataLogDir: dir,
        extendedTypesEnabled: true,
        maxClientCnxns: 0,
        fourLetterWhitelist: new Set(['*']),
      },
      { logger: VERBOSE ? undefined : silentLogger },
    );
    port = paddock.port;
    stop = () => paddock!.close();
  }
  const gc = gcFunction();
  try {
    // A parent for the valid requests.
    const setup = await RawClient.connect('127.0.0.1', port, { timeoutMs: 10_000 });
    await setup.send({ type: OpCode.create, path: '/fuzz', data: null, acl: OPEN_ACL, flags: 0, ttl: -1 });
    await setup.close();

    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const rng = new Prng(SEED);
    const scenarios = Array.from({ length: CONNECTIONS }, () => scenario(new Prng(rng.int(0x7fffffff))));
    const failures: string[] = [];
    for (let i = 0; i < scenarios.length; i += PARALLEL) {
      const wave = scenarios.slice(i, i + PARALLEL);
      const outcomes = await Promise.all(wave.map((sc) => runConnection(port, sc)));
      wave.forEach((sc, k) => {
        const out = outcomes[k]!;
        const problems = check(sc, out, sentXidsOf(sc));
        const summary = `#${i + k} ${sc.name}: ${out.replies.map((r) => `xid ${r.xid} err ${r.err}`).join(', ') || 'no reply'}${out.closedByServer ? ', closed by server' : ''}`;
        if (VERBOSE) t.diagnostic(summary);
        if (problems.length) failures.push(`${summary}\n    ${problems.join('\n    ')}`);
      });
    }
    assert.equal(failures.length, 0, `seed ${SEED}: ${failures.length} connection(s) misbehaved (replay: FUZZ_SEED=${SEED} FUZZ_VERBOSE=1 node --test dist/test/fuzz/fuzz.test.js):\n${failures.join('\n')}`);

    await freshClientWorks(port);

    // Every fuzz connection is gone: only the mntr connection itself may count.
    const deadline = Date.now() + 10_000;
    let live = await mntrConnections(port);
    while (live > 1 && Date.now() < deadline) {
      // The server notices closed sockets asynchronously; there is no event to wait on from outside.
      await new Promise((r) => setTimeout(r, 50));
      live = await mntrConnections(port);
    }
    assert.ok(live <= 1, `server still counts ${live} live connections after the storm`);
    if (paddock) assert.equal(paddock.server.connectionCount(), 0, 'pipeline connection count after the storm');

    if (gc && paddock) {
      gc();
      const growth = process.memoryUsage().heapUsed - heapBefore;
      t.diagnostic(`heap growth after GC: ${(growth / 1024 / 1024).toFixed(1)} MB`);
      assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${(growth / 1024 / 1024).toFixed(1)} MB during the storm`);
    }
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
