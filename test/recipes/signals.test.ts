/**
 * Every recipe that hands out an AbortSignal (a lock, lease, leadership or partition) must abort
 * it promptly for each way the resource can end: released, client closed, node deleted by
 * someone else, session expired, and the connection lost for longer than the session timeout
 * (the client decides alone that the session is gone). Each case waits for the abort event,
 * bounded by twice the session timeout from the moment the resource ended.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { joinPath, type ZooKeeperClient } from '../../src/client/index.js';
import {
  HoldLostError,
  LeaderLatch,
  LeaderSelector,
  MultiLock,
  Mutex,
  PartitionConsumer,
  ReadWriteLock,
  Semaphore,
  SessionLostError,
  type Leadership,
  type LossPolicy,
  type PartitionAssignment,
} from '../../src/recipes/index.js';
import { startTestServer, type TestServer } from '../../src/testing.js';
import { client, nextSessionEvent, uniquePath, within } from '../client/helpers.js';

const SESSION_TIMEOUT_MS = 1500;

/** A resource held through one client: its signal, its node(s), and how to give it back. */
interface Held {
  signal: AbortSignal;
  /** A node whose deletion ends the hold. */
  node(): Promise<string>;
  release(): Promise<void>;
}

interface Subject {
  name: string;
  take(zk: ZooKeeperClient, path: string, lossPolicy: LossPolicy): Promise<Held>;
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Waits for the function a LeaderSelector or PartitionConsumer calls with the held resource. */
function firstCall<T extends { signal: AbortSignal }>(): { handler: (value: T) => Promise<void>; called: Promise<T> } {
  let resolve!: (value: T) => void;
  const called = new Promise<T>((r) => (resolve = r));
  return {
    called,
    handler: async (value) => {
      resolve(value);
      await aborted(value.signal);
    },
  };
}

const subjects: Subject[] = [
  {
    name: 'Mutex',
    take: async (zk, path, lossPolicy) => {
      const lock = await new Mutex(zk, path, { lossPolicy }).acquire();
      return { signal: lock.signal, node: async () => lock.path, release: () => lock.release() };
    },
  },
  {
    name: 'ReadWriteLock (read)',
    take: async (zk, path, lossPolicy) => {
      const lock = await new ReadWriteLock(zk, path, { lossPolicy }).readLock.acquire();
      return { signal: lock.signal, node: async () => lock.path, release: () => lock.release() };
    },
  },
  {
    name: 'ReadWriteLock (write)',
    take: async (zk, path, lossPolicy) => {
      const lock = await new ReadWriteLock(zk, path, { lossPolicy }).writeLock.acquire();
      return { signal: lock.signal, node: async () => lock.path, release: () => lock.release() };
    },
  },
  {
    name: 'Semaphore',
    take: async (zk, path, lossPolicy) => {
      const lease = await new Semaphore(zk, path, 2, { lossPolicy }).acquire();
      return { signal: lease.signal, node: async () => lease.path, release: () => lease.release() };
    },
  },
  {
    name: 'MultiLock',
    take: async (zk, path, lossPolicy) => {
      const lock = await new MultiLock(zk, [joinPath(path, 'a'), joinPath(path, 'b')], { lossPolicy }).acquire();
      return { signal: lock.signal, node: async () => lock.path.split(',')[1] as string, release: () => lock.release() };
    },
  },
  {
    name: 'LeaderLatch',
    take: async (zk, path, lossPolicy) => {
      const latch = new LeaderLatch(zk, path, { id: 'a', lossPolicy });
      const term = await latch.await();
      return { signal: term.signal, node: async () => term.path, release: () => latch.close() };
    },
  },
  {
    name: 'LeaderSelector',
    take: async (zk, path, lossPolicy) => {
      const lead = firstCall<Leadership>();
      const selector = new LeaderSelector(zk, path, lead.handler, { id: 'a', lossPolicy, autoRequeue: false });
      selector.start();
      const term = await lead.called;
      return { signal: term.signal, node: async () => term.path, release: () => selector.close() };
    },
  },
  {
    name: 'PartitionConsumer',
    take: async (zk, path, lossPolicy) => {
      const consume = firstCall<PartitionAssignment>();
      const consumer = new PartitionConsumer(zk, path, { memberId: 'a', partitions: 1, handler: consume.handler, lossPolicy });
      await consumer.start();
      const assignment = await consume.called;
      const owners = joinPath(path, 'owners/0');
      return {
        signal: assignment.signal,
        node: async () => joinPath(owners, (await zk.getChildren(owners))[0] as string),
        release: () => consumer.close(),
      };
    },
  },
];

interface Way {
  name: string;
  lossPolicy: LossPolicy;
  /** Ends the resource; resolves once that is underway (the abort is awaited separately). */
  end(ctx: { server: TestServer; zk: ZooKeeperClient; held: Held }): Promise<{ settled: Promise<unknown> }>;
  /** Checks the signal's reason. */
  reason?: (reason: unknown) => boolean;
}

const ways: Way[] = [
  {
    name: 'released',
    lossPolicy: 'suspended',
    end: async ({ held }) => ({ settled: held.release() }),
  },
  {
    name: 'client closed',
    lossPolicy: 'suspended',
    end: async ({ zk }) => ({ settled: zk.close() }),
    reason: (r) => r instanceof HoldLostError,
  },
  {
    name: 'node deleted by another client',
    lossPolicy: 'expired',
    end: async ({ server, held }) => {
      const path = await held.node();
      const admin = await client(server.connectString);
      return { settled: admin.delete(path).finally(() => admin.close()) };
    },
    reason: (r) => r instanceof HoldLostError && !(r instanceof SessionLostError),
  },
  {
    name: 'session expired',
    lossPolicy: 'expired',
    end: async ({ server, zk }) => {
      assert.ok(server.expireSession(zk.sessionId as bigint), 'the server knows the session');
      return { settled: Promise.resolve() };
    },
    // The server may deliver the deletion of the session's ephemerals before the expiry.
    reason: (r) => r instanceof HoldLostError,
  },
  {
    name: 'connection lost past the session timeout (lossPolicy expired)',
    lossPolicy: 'expired',
    end: async ({ server, zk }) => {
      server.partition();
      return { settled: nextSessionEvent(zk, (e) => e.type === 'expired' && e.detectedBy === 'client', 4 * SESSION_TIMEOUT_MS) };
    },
    reason: (r) => r instanceof SessionLostError,
  },
  {
    name: 'connection lost (lossPolicy suspended)',
    lossPolicy: 'suspended',
    end: async ({ server }) => {
      server.partition();
      return { settled: Promise.resolve() };
    },
    reason: (r) => r instanceof SessionLostError,
  },
];

describe('a held resource signal aborts for every way it can end', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tickTime: 200 });
  });
  after(async () => {
    await server.close();
  });

  for (const subject of subjects) {
    for (const way of ways) {
      test(`${subject.name}: ${way.name}`, async () => {
        const zk = await client(server.connectString, { sessionTimeoutMs: SESSION_TIMEOUT_MS });
        let held: Held | null = null;
        try {
          assert.equal(zk.sessionTimeoutMs, SESSION_TIMEOUT_MS, 'the server granted the session timeout asked for');
          held = await within(subject.take(zk, uniquePath('signal'), way.lossPolicy), 10_000, `taking the ${subject.name}`);
          assert.equal(held.signal.aborted, false, 'the signal is live while held');
          const { settled } = await way.end({ server, zk, held });
          const bound = 2 * SESSION_TIMEOUT_MS;
          await within(aborted(held.signal), bound, `the signal's abort after "${way.name}"`);
          if (way.reason) assert.ok(way.reason(held.signal.reason), `reason: ${String(held.signal.reason)}`);
          await within(settled, 4 * SESSION_TIMEOUT_MS, way.name);
        } finally {
          server.heal();
          await within(held?.release() ?? Promise.resolve(), 10_000, 'release after the test');
          await within(zk.close(), 5_000, 'client close');
        }
      });
    }
  }
});
