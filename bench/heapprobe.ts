/**
 * Preloaded into the Paddock server process by the benchmark harness (`node --expose-gc
 * --import`): on SIGUSR2 it runs a full GC and writes process.memoryUsage() as JSON to
 * $PADDOCK_BENCH_HEAP_FILE, so the harness can read live heap from outside the process.
 */
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.PADDOCK_BENCH_HEAP_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    writeFileSync(file + '.tmp', JSON.stringify(process.memoryUsage()));
    renameSync(file + '.tmp', file);
  });
}
