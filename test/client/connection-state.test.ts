/**
 * The client's connection state machine without sockets or timers: time is the `now` passed
 * in, the server is frames built here, and every assertion is on what the machine asks for
 * (frames, timers, socket opens and destroys) and what it reports (events, replies, failures).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JuteReader, JuteWriter } from '../../src/jute/binary.js';
import { Err, EventType, OpCode, Xid } from '../../src/jute/constants.js';
import * as C from '../../src/client/codec.js';
import {
  ClientConnection,
  type AuthRequest,
  type ConnectionConfig,
  type ConnectionOutput,
  type OutboundRequest,
  type WatchedPaths,
} from '../../src/client/connection-state.js';
import { AuthFailedError, ConnectFailedError, ConnectionLossError, SessionExpiredError } from '../../src/client/errors.js';
import type { SessionEvent } from '../../src/client/types.js';

interface TestRequest extends OutboundRequest {
  name: string;
}

const NO_WATCHES: WatchedPaths = { data: [], exist: [], child: [], persistent: [], persistentRecursive: [] };
const HOSTS = [
  { host: 'a', port: 1 },
  { host: 'b', port: 2 },
  { host: 'c', port: 3 },
];
const PASSWD = Buffer.alloc(16, 7);

function frame(fill: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter();
  const at = w.beginFrame();
  fill(w);
  w.endFrame(at);
  return Buffer.from(w.bytes());
}

function connectResponse(sessionId: bigint, timeOut: number, readOnly = false): Buffer {
  return frame((w) => w.int(0).int(timeOut).long(sessionId).buffer(PASSWD).bool(readOnly));
}

function reply(xid: number, zxid: bigint, err = 0, body: (w: JuteWriter) => void = () => {}): Buffer {
  return frame((w) => {
    w.int(xid).long(zxid).int(err);
    body(w);
  });
}

function notification(type: number, path: string): Buffer {
  return reply(Xid.notification, -1n, 0, (w) => w.int(type).int(3).string(path));
}

function request(name: string, opcode: number = OpCode.getData, path?: string): TestRequest {
  return { name, opcode, body: Buffer.from(name), path };
}

const OP_NAMES = new Map<number, string>(Object.entries(OpCode).map(([name, code]) => [code, name]));

/**
 * A machine with a fake clock and a readable log of its outputs. `setTimer` lines carry the
 * delay; frames are named by opcode, the first on each connection is the ConnectRequest.
 */
class Harness {
  now = 0;
  watched: WatchedPaths = NO_WATCHES;
  readonly machine: ClientConnection<TestRequest>;
  readonly frames: Buffer[] = [];
  readonly events: SessionEvent[] = [];
  readonly replies: { name: string; xid: number; zxid: bigint; err: number }[] = [];
  readonly failures: { name: string; error: Error }[] = [];
  readonly auths: { auth: AuthRequest; error: Error | null }[] = [];
  private readonly opened = new Set<number>();
  connection = 0;

  constructor(config: Partial<ConnectionConfig> = {}) {
    this.machine = new ClientConnection<TestRequest>({
      hosts: HOSTS,
      shuffleHosts: false,
      sessionTimeoutMs: 6000,
      auth: [],
      reconnectAfterExpiry: true,
      clientSideExpiry: true,
      maxFrameBytes: 1 << 20,
      readOnly: false,
      random: () => 0.5,
      watchedPaths: () => this.watched,
      ...config,
    });
  }

  /** Runs one input and returns the outputs it produced, described. */
  step(input: (m: ClientConnection<TestRequest>, now: number) => unknown): string[] {
    input(this.machine, this.now);
    return this.machine.takeOutputs().map((o) => this.describe(o));
  }

  private describe(o: ConnectionOutput<TestRequest>): string {
    switch (o.type) {
      case 'open':
        this.connection = o.connection;
        return `open #${o.connection} ${o.host.host}:${o.host.port}`;
      case 'write': {
        this.frames.push(o.bytes);
        if (!this.opened.has(o.connection)) {
          this.opened.add(o.connection);
          return `write #${o.connection} connect`;
        }
        const xid = o.bytes.readInt32BE(4);
        const op = OP_NAMES.get(o.bytes.readInt32BE(8)) ?? String(o.bytes.readInt32BE(8));
        return xid < 0 ? `write #${o.connection} ${op}` : `write #${o.connection} ${op} xid ${xid}`;
      }
      case 'destroy':
        return `destroy #${o.connection}`;
      case 'setTimer':
        return `set ${o.timer} ${o.delayMs}`;
      case 'clearTimer':
        return `clear ${o.timer}`;
      case 'session':
        this.events.push(o.event);
        return `session ${o.event.type}`;
      case 'reply':
        this.replies.push({ name: o.request.name, xid: o.header.xid, zxid: o.header.zxid, err: o.header.err });
        return `reply ${o.request.name}`;
      case 'failed':
        this.failures.push({ name: o.request.name, error: o.error });
        return `failed ${o.request.name} ${o.error.name}`;
      case 'notification':
        return `notify ${o.eventType} ${o.path}`;
      case 'resyncWatches':
        return `resync ${o.reason}`;
      case 'expireWatches':
      case 'closeWatches':
        return o.type;
      case 'auth':
        this.auths.push({ auth: o.auth, error: o.error });
        return `auth ${o.auth.scheme} ${o.error ? o.error.name : 'ok'}`;
    }
  }

  /** Connects to the next host and completes the handshake; returns the outputs of the response. */
  establish(sessionId: bigint, timeOut = 6000): string[] {
    this.step((m, now) => m.socketConnected(this.connection, now));
    return this.step((m, now) => m.bytesReceived(this.connection, connectResponse(sessionId, timeOut), now));
  }

  receive(bytes: Buffer): string[] {
    return this.step((m, now) => m.bytesReceived(this.connection, bytes, now));
  }

  fire(timer: Parameters<ClientConnection['timerFired']>[0]): string[] {
    return this.step((m, now) => m.timerFired(timer, now));
  }

  lastFrame(): Buffer {
    return this.frames.at(-1) as Buffer;
  }
}

/** The fields of a written ConnectRequest. */
function readConnectRequest(bytes: Buffer): ReturnType<typeof C.ConnectRequest.read> {
  return C.ConnectRequest.read(new JuteReader(bytes.subarray(4)));
}

test('handshake: open the first host, send ConnectRequest, a response split byte by byte establishes the session', () => {
  const h = new Harness({ readOnly: true });
  assert.deepEqual(
    h.step((m, now) => m.start(now)),
    ['open #1 a:1', 'set connect 1000'],
    'connect timeout: session timeout / 3 / hosts, at least 1 s',
  );
  h.now = 5;
  assert.deepEqual(h.step((m, now) => m.socketConnected(1, now)), ['write #1 connect']);
  const sent = readConnectRequest(h.lastFrame());
  assert.deepEqual(
    { ...sent, passwd: [...(sent.passwd ?? [])] },
    { protocolVersion: 0, lastZxidSeen: 0n, timeOut: 6000, sessionId: 0n, passwd: new Array(16).fill(0), readOnly: true },
  );
  const response = connectResponse(0x10n, 4200, true);
  const outputs: string[] = [];
  for (let i = 0; i < response.length; i++) outputs.push(...h.receive(response.subarray(i, i + 1)));
  assert.deepEqual(outputs, ['clear connect', 'set heartbeat 700', 'session connected']);
  assert.deepEqual(h.events, [{ type: 'connected', sessionId: 0x10n, timeoutMs: 4200, host: 'a:1', readOnly: true }]);
  assert.equal(h.machine.state, 'connected');
  assert.equal(h.machine.sessionTimeoutMs, 4200);
  assert.deepEqual(h.machine.sessionPassword, PASSWD);
  assert.deepEqual(h.machine.currentHost, { host: 'a', port: 1 });
});

test('ping after a third of the session timeout idle; drop after two thirds without a byte', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  h.establish(0x10n, 6000);
  h.now = 1000;
  assert.deepEqual(h.fire('heartbeat'), ['set heartbeat 1000'], 'not idle long enough yet');
  h.now = 2000;
  assert.deepEqual(h.fire('heartbeat'), ['write #1 ping', 'set heartbeat 1000']);
  h.now = 2100;
  assert.deepEqual(h.receive(reply(Xid.ping, 5n)), [], 'a ping reply is only a sign of life');
  h.now = 3000;
  assert.deepEqual(h.fire('heartbeat'), ['set heartbeat 1000'], 'a ping was just sent');
  h.now = 4000;
  assert.deepEqual(h.fire('heartbeat'), ['write #1 ping', 'set heartbeat 1000']);
  h.now = 6100;
  assert.deepEqual(h.fire('heartbeat'), ['destroy #1', 'set expiry 2000', 'session suspended', 'set reconnect 0']);
  assert.deepEqual(h.events.at(-1), { type: 'suspended', sessionId: 0x10n, reason: 'no reply from the server for 4000 ms' });
  assert.equal(h.machine.lastZxid, 0n, 'a ping reply does not move lastZxid');
});

test('requests: queued while connecting, written in order once connected, replies matched FIFO', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  assert.deepEqual(h.step((m, now) => m.submit(request('r1'), now)), [], 'nothing goes out before the session');
  h.step((m, now) => m.submit(request('r2'), now));
  const cancelled = request('gone');
  h.step((m, now) => m.submit(cancelled, now));
  h.machine.cancel(cancelled);
  h.step((m, now) => m.submit(request('r3'), now));
  assert.deepEqual(h.establish(0x10n), [
    'clear connect',
    'set heartbeat 1000',
    'write #1 getData xid 1',
    'write #1 getData xid 2',
    'write #1 getData xid 3',
    'session connected',
  ]);
  assert.deepEqual(h.receive(Buffer.concat([reply(1, 100n), reply(2, 90n, Err.NONODE)])), ['reply r1', 'reply r2']);
  assert.deepEqual(h.replies, [
    { name: 'r1', xid: 1, zxid: 100n, err: 0 },
    { name: 'r2', xid: 2, zxid: 90n, err: Err.NONODE },
  ]);
  assert.equal(h.machine.lastZxid, 100n, 'the highest zxid seen');
  // A reply out of order is a protocol error: the connection goes, the rest fail with connection loss.
  assert.deepEqual(h.receive(reply(7, 101n)), ['clear heartbeat', 'destroy #1', 'failed r3 ConnectionLossError', 'set expiry 6000', 'session suspended', 'set reconnect 0']);
  assert.match(h.failures[0]?.error.message ?? '', /protocol error: reply xid 7 does not match the next request \(3\)/);
});

test('reconnect: a closed connection suspends the session, the next host resumes it with the last zxid', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  h.establish(0x10n);
  h.step((m, now) => m.submit(request('r1'), now));
  h.receive(reply(1, 0x500n));
  h.step((m, now) => m.submit(request('inflight'), now));
  h.now = 1500;
  assert.deepEqual(h.step((m, now) => m.socketClosed(1, 'connection closed', 'ECONNRESET', now)), [
    'clear heartbeat',
    'destroy #1',
    'failed inflight ConnectionLossError',
    'set expiry 4500',
    'session suspended',
    'set reconnect 0',
  ]);
  assert.ok(h.failures[0]?.error instanceof ConnectionLossError);
  assert.equal(h.machine.state, 'suspended');
  assert.deepEqual(h.fire('reconnect'), ['open #2 b:2', 'set connect 1000'], 'the next host in the list');
  h.step((m, now) => m.socketConnected(2, now));
  const sent = readConnectRequest(h.lastFrame());
  assert.equal(sent.sessionId, 0x10n);
  assert.deepEqual(sent.passwd, PASSWD);
  assert.equal(sent.lastZxidSeen, 0x500n, 'the server must not serve us from an older state');
  assert.deepEqual(h.receive(connectResponse(0x10n, 6000)), ['clear connect', 'clear expiry', 'set heartbeat 1000', 'session reconnected']);
  assert.deepEqual(h.events.at(-1), { type: 'reconnected', sessionId: 0x10n, host: 'b:2' });
  // Stale input from the old socket is ignored.
  assert.deepEqual(h.step((m, now) => m.socketClosed(1, 'late close', undefined, now)), []);
});

test('setWatches on reconnect: auth first, then watches with the last zxid, a resync, then queued requests', () => {
  const auth: AuthRequest = { scheme: 'digest', auth: Buffer.from('u:p') };
  const h = new Harness({ auth: [auth] });
  h.step((m, now) => m.start(now));
  assert.deepEqual(h.establish(0x10n).slice(2, 4), ['write #1 auth', 'session connected']);
  const authBody = new JuteReader(h.frames[1] as Buffer, 12);
  assert.deepEqual([authBody.int(), authBody.string(), authBody.buffer().toString()], [0, 'digest', 'u:p']);
  h.receive(reply(Xid.auth, 0n));
  h.step((m, now) => m.submit(request('r1'), now));
  h.receive(reply(1, 0x42n));
  h.step((m, now) => m.socketClosed(1, 'connection closed', undefined, now));
  h.fire('reconnect');
  h.watched = { data: ['/d'], exist: ['/e'], child: ['/c1', '/c2'], persistent: [], persistentRecursive: ['/r'] };
  h.step((m, now) => m.submit(request('queued'), now));
  assert.deepEqual(h.establish(0x10n), [
    'clear connect',
    'clear expiry',
    'set heartbeat 1000',
    'write #2 auth',
    'write #2 setWatches2',
    'resync reconnected',
    'write #2 getData xid 2',
    'session reconnected',
  ]);
  const setWatches = h.frames.at(-2) as Buffer;
  const r = new JuteReader(setWatches, 12);
  assert.deepEqual(
    [r.long(), r.stringVector(), r.stringVector(), r.stringVector(), r.stringVector(), r.stringVector()],
    [0x42n, ['/d'], ['/e'], ['/c1', '/c2'], [], ['/r']],
  );
  // Without persistent watches, the pre-3.6 setWatches with three lists.
  h.watched = { ...NO_WATCHES, data: ['/d'] };
  h.step((m, now) => m.socketClosed(2, 'connection closed', undefined, now));
  h.fire('reconnect');
  assert.ok(h.establish(0x10n).includes('write #3 setWatches'));
});

test('a refused credential fails its call, emits authFailed and is not replayed', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  const bad: AuthRequest = { scheme: 'nope', auth: Buffer.from('x') };
  assert.deepEqual(h.step((m, now) => m.addAuth(bad, now)), [], 'held until a session is up');
  assert.ok(h.establish(0x10n).includes('write #1 auth'));
  assert.deepEqual(h.receive(reply(Xid.auth, 0n, Err.AUTHFAILED)), ['auth nope AuthFailedError', 'session authFailed']);
  assert.ok(h.auths[0]?.error instanceof AuthFailedError);
  h.step((m, now) => m.socketClosed(1, 'connection closed', undefined, now));
  h.fire('reconnect');
  assert.ok(!h.establish(0x10n).some((line) => line.includes('auth')));
});

test('credentials in flight when the connection drops are sent again on the next one, and answered there', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  h.establish(0x10n);
  const auth: AuthRequest = { scheme: 'digest', auth: Buffer.from('u:p') };
  assert.deepEqual(h.step((m, now) => m.addAuth(auth, now)), ['write #1 auth']);
  assert.ok(!h.step((m, now) => m.socketClosed(1, 'connection closed', undefined, now)).some((l) => l.startsWith('auth')), 'a loss only delays the answer');
  h.fire('reconnect');
  assert.deepEqual(h.establish(0x10n).filter((l) => l.includes('auth')), ['write #2 auth'], 'sent once, not once per waiter');
  assert.deepEqual(h.receive(reply(Xid.auth, 0n)), ['auth digest ok']);
  assert.equal(h.auths[0]?.auth, auth);
});

test('session expired reply: queued calls fail, one-shot watches go, a new session starts', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  h.establish(0x10n);
  h.step((m, now) => m.socketClosed(1, 'connection closed', undefined, now));
  h.fire('reconnect');
  h.step((m, now) => m.submit(request('waiting', OpCode.exists, '/x'), now));
  h.watched = { ...NO_WATCHES, persistent: ['/p'] };
  h.step((m, now) => m.socketConnected(2, now));
  assert.deepEqual(h.receive(connectResponse(0x10n, 0)), [
    'clear connect',
    'destroy #2',
    'clear expiry',
    'failed waiting SessionExpiredError',
    'expireWatches',
    'session expired',
    'set reconnect 0',
  ]);
  const err = h.failures[0]?.error;
  assert.ok(err instanceof SessionExpiredError && err.path === '/x');
  assert.deepEqual(h.events.at(-1), { type: 'expired', sessionId: 0x10n, detectedBy: 'server' });
  assert.equal(h.machine.state, 'connecting');
  h.fire('reconnect');
  h.step((m, now) => m.socketConnected(3, now));
  assert.equal(readConnectRequest(h.lastFrame()).sessionId, 0n, 'a new session');
  assert.deepEqual(h.receive(connectResponse(0x20n, 6000)).slice(2), ['write #3 setWatches2', 'resync expired', 'session connected']);
});

test('client-side expiry: cut off from every server for the session timeout since the last byte heard', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  h.establish(0x10n, 6000);
  h.now = 1000;
  h.receive(reply(Xid.ping, 0n));
  h.now = 2500;
  assert.ok(h.step((m, now) => m.socketClosed(1, 'connection closed', undefined, now)).includes('set expiry 4500'));
  // Every host refuses; after a whole round the client backs off (10 ms initial, half jitter).
  const lines: string[] = [];
  for (const host of [2, 3, 4]) {
    lines.push(...h.fire('reconnect'));
    lines.push(...h.step((m, now) => m.socketClosed(host, 'connect ECONNREFUSED', 'ECONNREFUSED', now)));
  }
  assert.deepEqual(lines.filter((l) => l.startsWith('open') || l.startsWith('set reconnect')), [
    'open #2 b:2',
    'set reconnect 0',
    'open #3 c:3',
    'set reconnect 0',
    'open #4 a:1',
    'set reconnect 7',
  ]);
  h.fire('reconnect');
  h.step((m, now) => m.submit(request('stuck'), now));
  h.now = 7000;
  assert.deepEqual(h.fire('expiry'), [
    'clear connect',
    'destroy #5',
    'failed stuck SessionExpiredError',
    'expireWatches',
    'session expired',
    'set reconnect 0',
  ]);
  assert.deepEqual(h.events.at(-1), { type: 'expired', sessionId: 0x10n, detectedBy: 'client' });
  h.fire('reconnect');
  h.step((m, now) => m.socketConnected(6, now));
  assert.equal(readConnectRequest(h.lastFrame()).sessionId, 0n, 'never resumes a session it declared lost');
});

test('clientSideExpiry off and reconnectAfterExpiry off', () => {
  const h = new Harness({ clientSideExpiry: false, reconnectAfterExpiry: false });
  h.step((m, now) => m.start(now));
  h.establish(0x10n);
  assert.ok(!h.step((m, now) => m.socketClosed(1, 'gone', undefined, now)).some((l) => l.includes('expiry')));
  h.fire('reconnect');
  h.step((m, now) => m.socketConnected(2, now));
  assert.deepEqual(h.receive(connectResponse(0x10n, 0)).slice(-4), ['expireWatches', 'session expired', 'closeWatches', 'session closed']);
  assert.equal(h.machine.state, 'closed');
});

test('backoff doubles per failed round up to the maximum, with jitter in [base/2, base)', () => {
  let jitter = 0;
  const h = new Harness({ hosts: [HOSTS[0]!], reconnectBackoff: { initialMs: 100, maxMs: 500 }, random: () => jitter });
  h.step((m, now) => m.start(now));
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    jitter = i % 2 === 0 ? 0 : 0.999;
    const out = h.step((m, now) => m.socketClosed(h.connection, 'refused', 'ECONNREFUSED', now));
    delays.push(Number(out.find((l) => l.startsWith('set reconnect'))?.split(' ')[2]));
    h.fire('reconnect');
  }
  assert.deepEqual(delays, [50, 199, 200, 499, 250]);
});

test('host order: shuffled once from the random source, then rotated', () => {
  const draws = [0.1, 0.9];
  const h = new Harness({ shuffleHosts: true, random: () => draws.shift() ?? 0 });
  assert.deepEqual(
    h.machine.hosts.map((x) => x.host),
    ['c', 'b', 'a'],
  );
  const opened = h.step((m, now) => m.start(now)).filter((l) => l.startsWith('open'));
  for (let i = 0; i < 4; i++) {
    h.step((m, now) => m.socketClosed(h.connection, 'refused', 'ECONNREFUSED', now));
    opened.push(...h.fire('reconnect').filter((l) => l.startsWith('open')));
  }
  assert.deepEqual(opened, ['open #1 c:3', 'open #2 b:2', 'open #3 a:1', 'open #4 c:3', 'open #5 b:2']);
});

test('connectFailure names every host: refused, no TCP connection in time, handshake still pending', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  h.step((m, now) => m.socketClosed(1, 'connect ECONNREFUSED 10.0.0.1:1', 'ECONNREFUSED', now));
  h.fire('reconnect');
  h.now = 1000;
  assert.deepEqual(h.fire('connect'), ['destroy #2', 'set reconnect 0']);
  h.fire('reconnect');
  h.step((m, now) => m.socketConnected(3, now));
  const err = h.machine.connectFailure(15_000, 1300);
  assert.ok(err instanceof ConnectFailedError);
  assert.deepEqual(
    err.attempts.map((a) => [a.host, a.code, a.reason]),
    [
      ['a:1', 'ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:1'],
      ['b:2', 'ETIMEDOUT', 'no TCP connection within 1000 ms'],
      ['c:3', 'ETIMEDOUT', 'no handshake reply after 300 ms'],
    ],
  );
});

test('notifications carry the server path; EventType.None is not one', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  h.establish(0x10n);
  assert.deepEqual(h.receive(Buffer.concat([notification(EventType.NodeDataChanged, '/app/x'), notification(EventType.None, '')])), [
    `notify ${EventType.NodeDataChanged} /app/x`,
  ]);
});

test('close: closeSession, then everything ends on its reply; requests after it are refused', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  h.establish(0x10n);
  h.step((m, now) => m.submit(request('pending'), now));
  const auth: AuthRequest = { scheme: 'digest', auth: Buffer.from('u:p') };
  h.step((m, now) => m.addAuth(auth, now));
  assert.deepEqual(h.step((m, now) => m.close(now)), ['write #1 closeSession xid 2', 'set close 2000']);
  assert.equal(h.machine.closing, true);
  assert.equal(h.step((m, now) => m.submit(request('late'), now)).length, 0);
  assert.equal(h.machine.submit(request('late'), h.now), false);
  h.receive(reply(1, 0n));
  assert.deepEqual(h.receive(reply(2, 0n)), [
    'clear heartbeat',
    'clear close',
    'destroy #1',
    'auth digest ClientClosedError',
    'closeWatches',
    'session closed',
  ]);
  assert.equal(h.machine.state, 'closed');
  assert.equal(h.machine.armedTimers.size, 0);
  assert.deepEqual(h.step((m, now) => m.close(now)), [], 'idempotent');
});

test('close while connecting ends at once; close without a reply ends when the wait runs out', () => {
  const h = new Harness();
  h.step((m, now) => m.start(now));
  h.step((m, now) => m.submit(request('queued'), now));
  assert.deepEqual(h.step((m, now) => m.close(now)), ['clear connect', 'destroy #1', 'failed queued ClientClosedError', 'closeWatches', 'session closed']);
  const g = new Harness();
  g.step((m, now) => m.start(now));
  g.establish(0x10n);
  g.step((m, now) => m.close(now));
  g.now = 2000;
  assert.deepEqual(g.fire('close'), ['clear heartbeat', 'destroy #1', 'closeWatches', 'session closed']);
});

test('an oversized frame drops the connection', () => {
  const h = new Harness({ maxFrameBytes: 64 });
  h.step((m, now) => m.start(now));
  h.establish(0x10n);
  const out = h.receive(reply(1, 0n, 0, (w) => w.buffer(Buffer.alloc(100))));
  assert.deepEqual(out.slice(0, 2), ['clear heartbeat', 'destroy #1']);
  assert.match((h.events.at(-1) as { reason: string }).reason, /frame length \d+ is out of range \(limit 64\)/);
});

test('the machine and everything it imports use no Node module, timer, clock or random source', () => {
  const entry = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'client', 'connection-state.js');
  const seen = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const spec = m[1] as string;
      assert.ok(spec.startsWith('.'), `${file} imports ${spec}`);
      pending.push(resolve(dirname(file), spec));
    }
  }
  assert.ok(seen.size > 3, 'the import graph was followed');
  const machine = readFileSync(entry, 'utf8');
  for (const banned of ['setTimeout', 'setInterval', 'Date.now', 'Math.random', 'process.']) {
    assert.ok(!machine.includes(banned), `connection-state.js uses ${banned}`);
  }
});
