import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDataCommand, type DataCommandIo } from '../../src/cli/data.js';
import { NodeDisk, type Disk, type DiskFile, type OpenMode } from '../../src/io/disk.js';

export function payload(zxid: number, size = 20): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (zxid * 31 + i * 7 + 1) & 0xff;
  return b;
}

/** Runs `paddock data <args>` in this process on the real disk; what it printed, and its exit status. */
export async function runData(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: DataCommandIo = { out: (t) => void (out += t), err: (t) => void (err += t), disk: new NodeDisk() };
  const status = await runDataCommand(args, io);
  return { status, out, err };
}

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-persist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Wraps a Disk: counts file syncs, and when `gate` is set, holds each sync until released, so a
 * test can put appends in while an fsync is in flight.
 */
export class ProbeDisk implements Disk {
  syncs = 0;
  writes = 0;
  gated = false;
  private held: (() => void)[] = [];
  private heldWaiters: (() => void)[] = [];

  constructor(private readonly inner: Disk) {}

  /** Resolves once a sync is being held. */
  syncHeld(): Promise<void> {
    if (this.held.length > 0) return Promise.resolve();
    return new Promise((r) => this.heldWaiters.push(r));
  }

  releaseSyncs(): void {
    for (const r of this.held.splice(0)) r();
  }

  async open(path: string, mode: OpenMode): Promise<DiskFile> {
    const f = await this.inner.open(path, mode);
    const probe = this;
    return {
      path: f.path,
      write: (d, p) => {
        probe.writes++;
        return f.write(d, p);
      },
      read: (p, l) => f.read(p, l),
      size: () => f.size(),
      truncate: (l) => f.truncate(l),
      async sync() {
        await probe.countSync();
        return f.sync();
      },
      // Held before the writes, not between them and the sync: the inner disk does both at once.
      async writeAndSync(chunks, sync) {
        probe.writes += chunks.length;
        if (sync) await probe.countSync();
        return f.writeAndSync(chunks, sync);
      },
      close: () => f.close(),
    };
  }
  private async countSync(): Promise<void> {
    this.syncs++;
    if (!this.gated) return;
    await new Promise<void>((r) => {
      this.held.push(r);
      for (const w of this.heldWaiters.splice(0)) w();
    });
  }

  readFile(path: string): Promise<Buffer> {
    return this.inner.readFile(path);
  }
  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }
  mkdirp(dir: string): Promise<void> {
    return this.inner.mkdirp(dir);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  remove(path: string): Promise<void> {
    return this.inner.remove(path);
  }
  syncDir(dir: string): Promise<void> {
    return this.inner.syncDir(dir);
  }
  stat(path: string): Promise<{ size: number; isDirectory: boolean } | null> {
    return this.inner.stat(path);
  }
}

/**
 * Wraps a Disk: when `failNext` is set, the next writeAndSync goes to a read-only handle on the
 * same file, so the real disk's own write fails (EBADF) the way a failing device would.
 */
export class FailingWriteDisk extends ProbeDisk {
  failNext = false;

  constructor(private readonly base: Disk) {
    super(base);
  }

  override async open(path: string, mode: OpenMode): Promise<DiskFile> {
    const f = await super.open(path, mode);
    const disk = this;
    return {
      ...f,
      async writeAndSync(chunks, sync) {
        if (!disk.failNext) return f.writeAndSync(chunks, sync);
        disk.failNext = false;
        const readOnly = await disk.base.open(path, 'read');
        try {
          return await readOnly.writeAndSync(chunks, sync);
        } finally {
          await readOnly.close();
        }
      },
    };
  }
}
