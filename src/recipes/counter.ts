/**
 * A shared integer with compare-and-set, in Curator SharedCount's layout (the value as a 4-byte
 * big-endian int in one node), which kazoo's Counter also reads with `support_curator=True`.
 * `bytes: 8` stores an 8-byte long instead, as Curator's DistributedAtomicLong does.
 */
import { BadVersionError, NoNodeError, NodeExistsError, parentPath, type CallOptions, type StreamEvent, type ZooKeeperClient } from '../client/index.js';
import { combineSignals, ensurePath, retry } from './util.js';

export interface VersionedValue {
  value: bigint;
  /** The node's data version, for trySet. */
  version: number;
}

export class SharedCounter {
  private readonly width: 4 | 8;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    private readonly options: { initial?: bigint | number; bytes?: 4 | 8 } = {},
  ) {
    this.width = options.bytes ?? 4;
  }

  private encode(value: bigint): Buffer {
    const buf = Buffer.alloc(this.width);
    if (this.width === 4) {
      if (value < -(2n ** 31n) || value >= 2n ** 31n) throw new RangeError(`${value} does not fit in 4 bytes`);
      buf.writeInt32BE(Number(value));
    } else {
      buf.writeBigInt64BE(BigInt.asIntN(64, value));
    }
    return buf;
  }

  private decode(data: Buffer): bigint {
    if (data.length >= 8 && this.width === 8) return data.readBigInt64BE(0);
    if (data.length >= 4) return BigInt(data.readInt32BE(0));
    return BigInt(this.options.initial ?? 0);
  }

  /** The current value and version; creates the node with the initial value if missing. */
  async get(options: CallOptions = {}): Promise<VersionedValue> {
    const { signal, dispose } = combineSignals(options);
    try {
      for (;;) {
        try {
          const { data, stat } = await retry(this.client, () => this.client.getData(this.path), signal);
          return { value: this.decode(data), version: stat.version };
        } catch (err) {
          if (!(err instanceof NoNodeError)) throw err;
          await ensurePath(this.client, parentPath(this.path), { signal });
          try {
            await retry(this.client, () => this.client.create(this.path, this.encode(BigInt(this.options.initial ?? 0))), signal);
          } catch (err2) {
            if (!(err2 instanceof NodeExistsError)) throw err2;
          }
        }
      }
    } finally {
      dispose();
    }
  }

  /** Sets `value` only if the version is still `expected.version`; false when someone else won. */
  async trySet(expected: VersionedValue, value: bigint | number, options: CallOptions = {}): Promise<boolean> {
    try {
      await this.client.setData(this.path, this.encode(BigInt(value)), { ...options, version: expected.version });
      return true;
    } catch (err) {
      if (err instanceof BadVersionError) return false;
      throw err;
    }
  }

  /** Sets the value unconditionally. */
  async set(value: bigint | number, options: CallOptions = {}): Promise<void> {
    await this.get(options);
    await retry(this.client, () => this.client.setData(this.path, this.encode(BigInt(value))), options.signal);
  }

  /**
   * Adds `delta` by compare-and-set, retrying on contention; returns the new value. If the
   * connection drops during the write it rejects with ConnectionLossError, and the add may or
   * may not have happened (ZooKeeper cannot tell): decide from `get()` before retrying.
   */
  async add(delta: bigint | number = 1, options: CallOptions = {}): Promise<bigint> {
    for (;;) {
      const current = await this.get(options);
      const next = current.value + BigInt(delta);
      if (await this.trySet(current, next, options)) return next;
    }
  }

  /** The value after each change, starting with the current one; ends on `signal`. */
  async *values(options: { signal?: AbortSignal } = {}): AsyncGenerator<bigint> {
    let last: bigint | undefined;
    for await (const ev of this.client.watch(this.path, { signal: options.signal }) as AsyncIterable<StreamEvent>) {
      if (ev.type === 'deleted') continue;
      const { value } = await this.get({ signal: options.signal });
      if (value !== last) yield value;
      last = value;
    }
  }
}
