/**
 * kill -9 of a process writing through DiskQuorumStore on the real file system, again and again:
 * after each, the store opens, every acknowledged txn and epoch is there, and the tree is the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeDisk } from '../../src/io/disk.js';
import { DiskQuorumStore } from '../../src/server/quorum/disk-store.js';
import { tempDir } from '../persistence/helpers.js';

const WRITER = join(fileURLToPath(new URL('.', import.meta.url)), 'store-writer.js');
const KILLS = 4;

/** Runs the writer until it has acknowledged `acks` more txns, then kill -9; returns what it acknowledged. */
function runAndKill(dataDir: string, acks: number): Promise<{ acked: bigint[]; epoch: bigint }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: bigint[] = [];
    let epoch = 0n;
    let err = '';
    let pending = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer acknowledged ${acked.length} txns in 60 s\n${err}`));
    }, 60_000);
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const [what, value] = line.split(' ');
        if (what === 'acked') acked.push(BigInt(`0x${value}`));
        if (what === 'epoch') epoch = BigInt(value!);
      }
      if (!killed && acked.length >= acks) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve({ acked, epoch });
      else reject(new Error(`writer exited (${code ?? signal})\n${err}`));
    });
  });
}

test('kill -9 while writing, four times: acknowledged txns and epochs survive, the tree is the log', { timeout: 240_000 }, async (t) => {
  const dataDir = tempDir(t);
  const everAcked: bigint[] = [];
  for (let round = 0; round < KILLS; round++) {
    const { acked, epoch } = await runAndKill(dataDir, 150 + 37 * round);
    everAcked.push(...acked);
    const { store, state } = await DiskQuorumStore.open(new NodeDisk(), { dataDir });
    try {
      assert.ok(state.currentEpoch >= epoch && state.acceptedEpoch >= state.currentEpoch, `epochs ${state.acceptedEpoch}/${state.currentEpoch}, acked ${epoch}`);
      for (const zxid of everAcked) assert.ok(state.tree.getNode(`/z${zxid.toString(16)}`), `acknowledged 0x${zxid.toString(16)} lost after kill ${round + 1}`);
      assert.ok(state.lastLoggedZxid >= everAcked.reduce((a, b) => (a > b ? a : b)));
      assert.equal(BigInt(state.tree.lastProcessedZxid), state.lastLoggedZxid);
      // Nothing is purged here, so the log holds every txn ever written: exactly the tree's nodes.
      const logged: string[] = [];
      for await (const e of store.readAfter(0n)) logged.push(`z${e.zxid.toString(16)}`);
      assert.deepEqual(state.tree.childrenOf('/').filter((c) => c !== 'zookeeper').sort(), logged.sort());
    } finally {
      await store.close();
    }
  }
});
