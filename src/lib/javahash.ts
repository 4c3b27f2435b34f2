/**
 * The iteration order of a java.util.HashSet<String>, so that lists ZooKeeper builds from one
 * (the ephemerals a closeSession deletes, and so the order of their watch events) come out in
 * the same order here.
 */

/** java.lang.String.hashCode over UTF-16 code units. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** HashMap.hash(): the high bits folded into the low ones. */
function spread(h: number): number {
  return h ^ (h >>> 16);
}

/** Table size of a HashSet that has held `size` elements, grown from `initialCapacity`. */
export function javaCapacityFor(size: number, initialCapacity = 16): number {
  let capacity = initialCapacity;
  while (size > capacity * 0.75) capacity *= 2;
  return capacity;
}

/** Table size of `set.clone()` for a HashSet of `size` elements (sized to fit, no minimum). */
export function javaCloneCapacity(size: number): number {
  const wanted = Math.floor(size / 0.75 + 1);
  let capacity = 1;
  while (capacity < wanted) capacity *= 2;
  return capacity;
}

/** Table size of `new HashSet<>(collection)` for a collection of `size` elements. */
export function javaCopyCapacity(size: number): number {
  const wanted = Math.max(Math.floor(size / 0.75) + 1, 16);
  let capacity = 1;
  while (capacity < wanted) capacity *= 2;
  return capacity;
}

/**
 * Iteration order of a HashSet with `capacity` buckets whose elements were added in
 * `insertionOrder`: by bucket, then by insertion within a bucket. (Buckets of more than eight
 * entries become trees in Java, with another order; sets that large are not emulated.)
 */
export function javaHashSetOrder(insertionOrder: readonly string[], capacity: number): string[] {
  const mask = capacity - 1;
  return insertionOrder
    .map((s, i) => ({ s, i, bucket: spread(javaStringHash(s)) & mask }))
    .sort((a, b) => a.bucket - b.bucket || a.i - b.i)
    .map((x) => x.s);
}
