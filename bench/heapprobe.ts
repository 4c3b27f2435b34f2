/**
 * Preloaded into the Paddock server process by the benchmark harness (`node --expose-gc
 * --import`): on SIGUSR2 it runs a full GC and writes process.memoryUsage() as JSON to
 * $PADDOCK_BENCH_HEAP_FILE, so the harness can read live heap from outside the process. With
 * $PADDOCK_BENCH_HEAP_SNAPSHOT set to a path it also writes a V8 heap snapshot there.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

const file = process.env.PADDOCK_BENCH_HEAP_FILE;
const snapshot = process.env.PADDOCK_BENCH_HEAP_SNAPSHOT;
if (file) {
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    if (snapshot) writeHeapSnapshot(snapshot);
    writeFileSync(file + '.tmp', JSON.stringify(process.memoryUsage()));
    renameSync(file + '.tmp', file);
  });
}
