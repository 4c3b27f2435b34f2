/**
 * Interns ACL lists so nodes with equal ACLs share one frozen array (ZooKeeper's
 * ReferenceCountedACLCache). Reference counts let unused lists be dropped.
 */
import type { ACL } from '../jute/records.js';
import { assert } from '../lib/assert.js';

interface Entry {
  key: string;
  acl: ACL[];
  refs: number;
}

export class AclCache {
  private readonly byKey = new Map<string, Entry>();
  private readonly byArray = new Map<readonly ACL[], Entry>();

  /** The entry interned last, while it is cached: runs of creates mostly repeat one list. */
  private last: Entry | null = null;

  /** The shared array equal to `acl`, with one more reference. */
  intern(acl: readonly ACL[]): ACL[] {
    const last = this.last;
    if (last !== null && sameAcls(last.acl, acl)) {
      last.refs++;
      return last.acl;
    }
    const key = keyOf(acl);
    let entry = this.byKey.get(key);
    if (entry === undefined) {
      const frozen = Object.freeze(acl.map(copyAcl)) as ACL[];
      entry = { key, acl: frozen, refs: 0 };
      this.byKey.set(key, entry);
      this.byArray.set(frozen, entry);
    }
    entry.refs++;
    this.last = entry;
    return entry.acl;
  }

  /** Adds `refs` references to an array intern returned. */
  retain(acl: readonly ACL[], refs: number): void {
    const entry = this.byArray.get(acl);
    assert(entry !== undefined, 'retaining an ACL list that is not interned');
    assert(Number.isSafeInteger(refs) && refs >= 0, `bad ACL reference count ${refs}`);
    entry.refs += refs;
  }

  /** Drops one reference to an interned array. */
  release(acl: readonly ACL[]): void {
    const entry = this.byArray.get(acl);
    if (entry === undefined || --entry.refs > 0) return;
    this.byKey.delete(entry.key);
    this.byArray.delete(acl);
    if (this.last === entry) this.last = null;
  }

  /** Number of distinct ACL lists in use. */
  size(): number {
    return this.byKey.size;
  }
}

function copyAcl(a: ACL): ACL {
  return Object.freeze({ perms: a.perms, id: Object.freeze({ scheme: a.id.scheme, id: a.id.id }) });
}

/** True when keyOf would give both lists the same key. */
function sameAcls(a: readonly ACL[], b: readonly ACL[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.perms !== y.perms || x.id.scheme !== y.id.scheme || x.id.id !== y.id.id) return false;
  }
  return true;
}

function keyOf(acl: readonly ACL[]): string {
  return JSON.stringify(acl.map((a) => [a.perms, a.id.scheme, a.id.id]));
}
