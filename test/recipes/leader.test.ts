import assert from 'node:assert/strict';
import type { ZooKeeperClient } from '../../src/client/index.js';
import { LeaderLatch, LeaderSelector, type Leadership } from '../../src/recipes/index.js';
import { forEachTarget, it } from '../client/targets.js';
import { FaultProxy } from '../client/proxy.js';
import { client, killSession, uniquePath, waitForChildren, within } from '../client/helpers.js';

interface Contender {
  proxy: FaultProxy;
  zk: ZooKeeperClient;
  latch: LeaderLatch;
  name: string;
}

forEachTarget('leader election', ({ server }) => {
  it('latch: one leader at a time through kills, partitions and expiries; tokens grow', async () => {
    const path = uniquePath('latch');
    const contenders: Contender[] = [];
    const violations: string[] = [];
    let lastToken = -1n;
    let lastLeader = '';
    const terms: string[] = [];
    let onTerm: (() => void) | null = null;

    const join = async (name: string): Promise<Contender> => {
      const proxy = await FaultProxy.start(server().port);
      const zk = await client(proxy.connectString, { sessionTimeoutMs: 2000 });
      const latch = new LeaderLatch(zk, path, { id: name });
      const c = { proxy, zk, latch, name };
      latch.onChange((l: Leadership | null) => {
        if (!l) return;
        // The invariant: when a term starts, no other contender holds a valid one.
        for (const other of contenders) {
          if (other !== c && other.latch.hasLeadership) violations.push(`${name} leads while ${other.name} still does`);
        }
        const sameTermResumed = lastLeader === name && l.fencingToken === lastToken;
        if (!sameTermResumed && l.fencingToken <= lastToken) violations.push(`token went back: ${l.fencingToken} <= ${lastToken}`);
        lastToken = l.fencingToken;
        lastLeader = name;
        terms.push(name);
        onTerm?.();
      });
      latch.start();
      contenders.push(c);
      return c;
    };
    const nextTerm = (count: number): Promise<void> =>
      new Promise((resolve) => {
        const target = terms.length + count;
        onTerm = () => terms.length >= target && resolve();
      });
    const leader = (): Contender => {
      const found = contenders.find((c) => c.latch.hasLeadership);
      assert.ok(found, 'someone leads');
      return found;
    };

    try {
      const first = nextTerm(1);
      for (let i = 0; i < 4; i++) await join(`p${i}`);
      await within(first, 15_000, 'first leader');
      await waitForChildren(contenders[0]!.zk, path, (names) => names.length === 4);
      const participants = await contenders[0]!.latch.participants();
      assert.equal(participants.length, 4);
      assert.equal(participants[0]?.id, leader().name);

      for (let round = 0; round < 6; round++) {
        const old = leader();
        const next = nextTerm(1);
        if (round % 3 === 0) {
          await killSession(old.zk, server().connectString);
        } else if (round % 3 === 1) {
          // Partition: the leader hears nothing; it must step down before anyone else steps up.
          old.proxy.setBlackhole(true);
        } else {
          await old.latch.close();
          await old.zk.close();
          await old.proxy.close();
          contenders.splice(contenders.indexOf(old), 1);
          await join(`p${4 + round}`);
        }
        await within(next, 20_000, `new leader in round ${round}`);
        assert.notEqual(leader(), old);
        if (round % 3 === 1) {
          old.proxy.setBlackhole(false);
          old.proxy.dropAll();
        }
      }
      assert.deepEqual(violations, []);
    } finally {
      for (const c of contenders) {
        await c.latch.close();
        await c.zk.close();
        await c.proxy.close();
      }
    }
  }, 120_000);

  it('selector: calls one leader at a time and requeues', async () => {
    const path = uniquePath('selector');
    const clients = await Promise.all(Array.from({ length: 3 }, () => client(server().connectString)));
    let inside = 0;
    let termsDone = 0;
    const tokens: bigint[] = [];
    let allDone!: () => void;
    const done = new Promise<void>((r) => (allDone = r));
    const selectors = clients.map(
      (zk, i) =>
        new LeaderSelector(
          zk,
          path,
          async (leadership) => {
            inside++;
            assert.equal(inside, 1);
            tokens.push(leadership.fencingToken);
            await new Promise((r) => setImmediate(r));
            inside--;
            if (++termsDone === 9) allDone();
          },
          { id: `s${i}` },
        ),
    );
    try {
      for (const s of selectors) s.start();
      await within(done, 20_000, 'nine terms');
      for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, 'tokens grow');
    } finally {
      for (const s of selectors) await s.close();
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('selector: leadership signal aborts on session loss', async () => {
    await using zk = await client(server().connectString);
    await using other = await client(server().connectString);
    const path = uniquePath('selector');
    let aborted!: (reason: unknown) => void;
    const abortedP = new Promise((r) => (aborted = r));
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const sel = new LeaderSelector(
      zk,
      path,
      async ({ signal }) => {
        started();
        if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        aborted(signal.reason);
      },
      { autoRequeue: false },
    );
    sel.start();
    await within(startedP, 10_000, 'leadership');
    const rival = new LeaderLatch(other, `${path}-rival`);
    await rival.close();
    await killSession(zk, server().connectString);
    await within(abortedP, 10_000, 'abort');
    await sel.close();
  });
});
