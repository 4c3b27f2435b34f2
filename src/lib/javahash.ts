/**
 * Iteration orders of the Java hash sets ZooKeeper hands to clients: a znode's children
 * (DataNode.children, a HashSet<String>), a session's ephemerals (a HashSet<String>), and a
 * connection's auth ids (a ConcurrentHashMap key set), so that lists built from them come out in
 * the same order here.
 *
 * java.util.HashMap, which backs HashSet: a power-of-two table of buckets; an element goes to
 * bucket spread(hashCode) & (capacity - 1) and to the tail of that bucket's list; iteration
 * walks buckets in index order, each list head to tail. The table doubles when the size passes
 * 3/4 of the capacity, and a resize splits every list into two that keep their relative order,
 * so the order within a bucket is always the order of (last) insertion. It never shrinks.
 * A list that would reach 9 entries doubles the table instead while it has fewer than 64
 * buckets; from 64 buckets on, such a list becomes a red-black tree whose iteration order this
 * model does not follow (it takes names whose hashes agree in all the table's low bits, which
 * real child names practically never do: sequential and random names of up to a million
 * children stay at 8 or fewer per bucket).
 */

/** java.lang.String.hashCode over UTF-16 code units, of `s` from index `from` on. */
export function javaStringHash(s: string, from = 0): number {
  let h = 0;
  for (let i = from; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** HashMap.hash(): the high bits folded into the low ones. */
function spread(h: number): number {
  return h ^ (h >>> 16);
}

/** Buckets before which a crowded bucket grows the table instead of becoming a tree. */
const MIN_TREEIFY_CAPACITY = 64;
/** Entries a bucket's list holds before it becomes a tree (or grows a small table). */
const TREEIFY_THRESHOLD = 8;

/**
 * Table size of `set.clone()` for a HashSet of `size` elements: sized to fit, no minimum, as
 * JDK 17 (ZooKeeper's runtime here) computes it; a clone of an empty set starts at 16.
 */
export function javaCloneCapacity(size: number): number {
  if (size === 0) return 16;
  const wanted = Math.floor(size / 0.75 + 1);
  let capacity = 1;
  while (capacity < wanted) capacity *= 2;
  return capacity;
}

/**
 * Iteration order of a HashSet with `capacity` buckets whose elements were (last) added in
 * `insertionOrder`: by bucket, then by insertion within a bucket. `hashFrom`: hash each string
 * from this index on (a child's name inside its full path).
 */
export function javaHashSetOrder(insertionOrder: readonly string[], capacity: number, hashFrom = 0): string[] {
  const n = insertionOrder.length;
  if (n < 2) return insertionOrder.slice();
  const mask = capacity - 1;
  const buckets = new Int32Array(n);
  for (let i = 0; i < n; i++) buckets[i] = spread(javaStringHash(insertionOrder[i]!, hashFrom)) & mask;
  return stableOrderByBucket(insertionOrder, buckets, capacity);
}

/**
 * `items` ordered by `buckets` (each in [0, capacity)), ties in their given order: a counting
 * sort while the table is not much larger than the list, else a comparison sort (a set that
 * once held many more elements keeps its large table).
 */
function stableOrderByBucket(items: readonly string[], buckets: Int32Array, capacity: number): string[] {
  const n = items.length;
  const out = new Array<string>(n);
  if (capacity <= 4 * n) {
    const starts = new Int32Array(capacity + 1);
    for (let i = 0; i < n; i++) starts[buckets[i]! + 1]!++;
    for (let b = 0; b < capacity; b++) starts[b + 1]! += starts[b]!;
    for (let i = 0; i < n; i++) out[starts[buckets[i]!]!++] = items[i]!;
    return out;
  }
  const index = Array.from({ length: n }, (_, i) => i);
  index.sort((a, b) => buckets[a]! - buckets[b]! || a - b);
  for (let i = 0; i < n; i++) out[i] = items[index[i]!]!;
  return out;
}

/**
 * A java.util.HashSet<String> as far as its iteration order goes: a Set (members in last
 * insertion order) that also tracks Java's table size, which together fix the order (see the
 * file comment); ordered() gives it. A subclass rather than a wrapper: a znode with children
 * pays for one object, not two. `hashFrom`: the strings are hashed from this index on, so a
 * node's children can be kept as full paths while Java hashes their names.
 */
export class JavaHashSet extends Set<string> {
  private capacity: number;

  /** `initialCapacity`: 16 for `new HashSet<>()`, 8 for ZooKeeper's child sets. */
  constructor(
    initialCapacity: number,
    private readonly hashFrom = 0,
  ) {
    super();
    this.capacity = initialCapacity;
  }

  /** Buckets of the Java table now. */
  get tableSize(): number {
    return this.capacity;
  }

  /** HashSet.add: a new member goes to the tail of its bucket; the table may double. */
  override add(s: string): this {
    if (this.has(s)) return this;
    super.add(s);
    if (this.capacity < MIN_TREEIFY_CAPACITY && this.size > TREEIFY_THRESHOLD && this.bucketSize(s) > TREEIFY_THRESHOLD) {
      this.capacity *= 2;
    }
    if (this.size > this.capacity * 0.75) this.capacity *= 2;
    return this;
  }

  /** Java's iteration order. (Plain iteration gives insertion order.) */
  ordered(): string[] {
    return javaHashSetOrder([...this], this.capacity, this.hashFrom);
  }

  /** An exact copy (same members, insertion order and table), not Java's clone(). */
  copy(): JavaHashSet {
    const twin = new JavaHashSet(this.capacity, this.hashFrom);
    for (const s of this) twin.addAsIs(s);
    return twin;
  }

  private addAsIs(s: string): void {
    super.add(s);
  }

  private bucketSize(s: string): number {
    const mask = this.capacity - 1;
    const bucket = spread(javaStringHash(s, this.hashFrom)) & mask;
    let n = 0;
    for (const m of this) if ((spread(javaStringHash(m, this.hashFrom)) & mask) === bucket) n++;
    return n;
  }
}

/** `set.clone()` of a HashSet whose iteration order is `ordered` (JDK 17 sizing). */
export function javaHashSetClone(ordered: readonly string[]): JavaHashSet {
  const clone = new JavaHashSet(javaCloneCapacity(ordered.length));
  for (const s of ordered) clone.add(s);
  return clone;
}

/** org.apache.zookeeper.data.Id.hashCode() (jute's generated record hash). */
export function javaIdHash(scheme: string, id: string): number {
  return (Math.imul(37, (Math.imul(37, 17) + javaStringHash(scheme)) | 0) + javaStringHash(id)) | 0;
}

/**
 * Iteration order of a ConcurrentHashMap key set (default 16 buckets) after adding `keys` in
 * this order, none removed: by bucket, then by insertion, except that its resize (at 3/4 full)
 * re-links each bucket partly reversed: the longest tail of entries bound for the same new
 * bucket stays in order, the entries before it are pushed in front one by one. Buckets of more
 * than 8 entries (trees) are not modelled.
 */
export function javaConcurrentKeySetOrder<T>(keys: readonly T[], hashOf: (key: T) => number): T[] {
  let table: { key: T; hash: number }[][] = Array.from({ length: 16 }, () => []);
  let size = 0;
  for (const key of keys) {
    const h = hashOf(key);
    const hash = (h ^ (h >>> 16)) & 0x7fffffff;
    table[hash & (table.length - 1)]!.push({ key, hash });
    size++;
    if (size >= table.length - (table.length >>> 2)) table = concurrentResize(table);
  }
  return table.flatMap((bucket) => bucket.map((e) => e.key));
}

function concurrentResize<E extends { hash: number }>(table: E[][]): E[][] {
  const n = table.length;
  const next: E[][] = Array.from({ length: 2 * n }, () => []);
  table.forEach((bucket, i) => {
    if (bucket.length === 0) return;
    const bit = (e: E): number => e.hash & n;
    let lastRun = bucket.length - 1;
    while (lastRun > 0 && bit(bucket[lastRun - 1]!) === bit(bucket[bucket.length - 1]!)) lastRun--;
    const low: E[] = [];
    const high: E[] = [];
    (bit(bucket[lastRun]!) === 0 ? low : high).push(...bucket.slice(lastRun));
    for (let k = 0; k < lastRun; k++) (bit(bucket[k]!) === 0 ? low : high).unshift(bucket[k]!);
    next[i] = low;
    next[i + n] = high;
  });
  return next;
}
