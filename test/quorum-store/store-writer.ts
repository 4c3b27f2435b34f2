/**
 * A child process for the kill -9 test: opens a DiskQuorumStore on argv[2] and writes forever,
 * printing what is durable: `acked <zxid hex>` once an append settled, `epoch <n>` once both
 * epoch files hold n, `snapshot <zxid hex>` once a snapshot is written. Every 40 txns it takes a
 * snapshot; every 100 it moves to a new epoch, as a learner does (acceptedEpoch, then currentEpoch).
 */
import { NodeDisk } from '../../src/io/disk.js';
import { OpCode } from '../../src/jute/constants.js';
import { decodeTxn, encodeTxn } from '../../src/jute/txn.js';
import { makeZxid } from '../../src/consensus/zxid.js';
import { replayTxn } from '../../src/sessions/replay.js';
import { DiskQuorumStore } from '../../src/server/quorum/disk-store.js';

const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

export function writerTxn(zxid: bigint): Buffer {
  const header = { sessionId: 0n, cxid: 0, zxid: Number(zxid), time: 1_700_000_000_000, type: OpCode.create };
  const body = { type: OpCode.create, path: `/z${zxid.toString(16)}`, data: Buffer.from(`written at ${zxid}`), acl: OPEN, ephemeral: false, parentCVersion: 1 };
  return encodeTxn({ header, body });
}

async function main(dataDir: string): Promise<void> {
  const { store, state } = await DiskQuorumStore.open(new NodeDisk(), { dataDir, preAllocSizeKb: 64 });
  let epoch = state.currentEpoch === 0n ? 1n : state.currentEpoch;
  if (state.currentEpoch !== epoch) {
    await store.setAcceptedEpoch(epoch);
    await store.setCurrentEpoch(epoch);
  }
  process.stdout.write(`epoch ${epoch}\n`);
  let counter = state.lastLoggedZxid >> 32n === epoch ? state.lastLoggedZxid & 0xffffffffn : 0n;
  for (let written = 1; ; written++) {
    if (written % 100 === 0) {
      epoch++;
      counter = 0n;
      await store.setAcceptedEpoch(epoch);
      await store.setCurrentEpoch(epoch);
      process.stdout.write(`epoch ${epoch}\n`);
    }
    // Ten appends share a group commit; each is reported as it settles.
    const batch = Array.from({ length: 10 }, () => makeZxid(epoch, ++counter));
    await Promise.all(
      batch.map((zxid) => {
        const data = writerTxn(zxid);
        return store.append([{ zxid, data }]).then(() => {
          replayTxn(state.tree, state.sessions, decodeTxn(data));
          process.stdout.write(`acked ${zxid.toString(16)}\n`);
        });
      }),
    );
    if (written % 4 === 0) {
      const snap = await store.takeSnapshot(state.tree, state.sessions);
      process.stdout.write(`snapshot ${snap.zxid.toString(16)}\n`);
    }
  }
}

if (process.argv[2]) {
  main(process.argv[2]).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
