/** Ops of a `multi` and a fluent builder that commits them as one atomic transaction. */
import type { ACL, CallOptions, CreateMode, Stat } from './types.js';

export type TransactionOp =
  | {
      type: 'create';
      path: string;
      data?: Uint8Array | string | null | undefined;
      mode?: CreateMode | undefined;
      acl?: readonly ACL[] | undefined;
      ttlMs?: number | undefined;
    }
  | { type: 'delete'; path: string; version?: number | undefined }
  | { type: 'setData'; path: string; data: Uint8Array | string | null; version?: number | undefined }
  | { type: 'check'; path: string; version: number };

export type TransactionResult =
  | { type: 'create'; path: string; stat: Stat }
  | { type: 'delete' }
  | { type: 'setData'; stat: Stat }
  | { type: 'check' };

export type ReadOp = { type: 'getData'; path: string } | { type: 'getChildren'; path: string };

/** One result of `multiRead`: each op succeeds or fails on its own. */
export type ReadResult =
  | { type: 'getData'; data: Buffer; stat: Stat }
  | { type: 'getChildren'; children: string[] }
  | { type: 'error'; code: number; path: string };

export interface CreateOptions extends CallOptions {
  mode?: CreateMode | undefined;
  acl?: readonly ACL[] | undefined;
  /** Required for the TTL modes: ms after the last change (with no children) before deletion. */
  ttlMs?: number | undefined;
}

/**
 * Collects ops, then `commit()` sends them in one `multi`: all apply at one zxid or none does.
 * A failure rejects with TransactionError naming the failing op.
 */
export class Transaction {
  readonly ops: TransactionOp[] = [];

  constructor(private readonly run: (ops: TransactionOp[], options?: CallOptions) => Promise<TransactionResult[]>) {}

  create(path: string, data?: Uint8Array | string | null, options: Omit<CreateOptions, keyof CallOptions> = {}): this {
    this.ops.push({ type: 'create', path, data, mode: options.mode, acl: options.acl, ttlMs: options.ttlMs });
    return this;
  }

  delete(path: string, version = -1): this {
    this.ops.push({ type: 'delete', path, version });
    return this;
  }

  setData(path: string, data: Uint8Array | string | null, version = -1): this {
    this.ops.push({ type: 'setData', path, data, version });
    return this;
  }

  /** Fails the transaction unless the node's data version is `version`. */
  check(path: string, version: number): this {
    this.ops.push({ type: 'check', path, version });
    return this;
  }

  commit(options?: CallOptions): Promise<TransactionResult[]> {
    return this.run(this.ops, options);
  }
}
