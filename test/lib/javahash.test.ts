import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  JavaHashSet,
  javaCloneCapacity,
  javaConcurrentKeySetOrder,
  javaHashSetClone,
  javaHashSetOrder,
  javaIdHash,
  javaStringHash,
} from '../../src/lib/javahash.js';
import { Prng } from '../../src/lib/prng.js';
import { hex, runJava, skipUnlessJava, unhex } from './javaorder.js';

test('String.hashCode matches Java', () => {
  assert.equal(javaStringHash(''), 0);
  assert.equal(javaStringHash('hello'), 99162322);
  assert.equal(javaStringHash('/app/seq/s-0000000001'), javaStringHash('/app/seq/s-0000000001'));
  assert.equal(javaStringHash('polygenelubricants'), -2147483648);
});

test('HashSet iteration order matches the JDK', () => {
  // Printed by: new ArrayList<>(new HashSet<>(set)) for a HashSet filled in this order (JDK 17).
  const inserted = ['/s22/e', '/s22/a/q0000000003', '/s1/b/x', '/zz', '/a', '/app/seq/s-0000000001', '/q/n-0000000000', '/x/😀'];
  const original = javaHashSetOrder(inserted, 16);
  // new HashSet<>(set) of 8 names has 16 buckets.
  assert.deepEqual(javaHashSetOrder(original, 16), [
    '/x/😀', '/s1/b/x', '/a', '/s22/e', '/s22/a/q0000000003', '/app/seq/s-0000000001', '/q/n-0000000000', '/zz',
  ]);
});

test('HashSet.clone() order matches the JDK (the set closeSession deletes)', () => {
  // Printed by: new ArrayList<>((HashSet) set.clone()) for a HashSet filled in this order (JDK 17).
  const inserted = ['/s5187/e/x', '/s5187/q0000000007', '/a', '/bb', '/s1/x'];
  const original = javaHashSetOrder(inserted, 16);
  assert.deepEqual(javaHashSetOrder(original, javaCloneCapacity(original.length)), ['/s5187/e/x', '/a', '/s5187/q0000000007', '/s1/x', '/bb']);
});

// ---- the models against the real JDK (the JVM ZooKeeper runs on) ----

/** A random child name: sequential, short random, long random, or non-ASCII. */
function randomName(rng: Prng, i: number): string {
  const x = rng.next();
  if (x < 0.3) return `n-${String(i).padStart(10, '0')}`;
  if (x < 0.55) return `c${i}`;
  if (x < 0.85) return Array.from({ length: 1 + rng.int(12) }, () => String.fromCharCode(97 + rng.int(26))).join('');
  return rng.pick(['é', 'ü', '😀', '日本', '\u{1F680}x', 'Ω']) + i;
}

/** Names whose String.hashCode values are all equal ("Aa" and "BB" hash alike). */
function collidingNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => [0, 1, 2, 3].map((b) => ((i >> b) & 1 ? 'Aa' : 'BB')).join(''));
}

interface Case {
  script: string[];
  /** What the model says each `print` prints. */
  expected: string[][];
}

/**
 * A random child-set history as ZooKeeper's DataNode sees it: the set is made with 8 buckets,
 * grows past several resizes, shrinks, takes names back (they go to their bucket's tail), and is
 * reloaded as a restart does (written in iteration order, re-added to a fresh set).
 */
function childSetCase(seed: number): Case {
  const rng = new Prng(seed);
  const parent = rng.pick(['/', '/app/', '/p/q/']);
  const model = new JavaHashSet(8, parent.length);
  const script = ['new 8'];
  const expected: string[][] = [];
  const present: string[] = [];
  const gone: string[] = [];
  const peak = 1 + rng.int(rng.bool(0.3) ? 300 : 40);
  let next = 0;
  const print = (): void => {
    script.push('print');
    expected.push(model.ordered().map((p) => p.substring(parent.length)));
  };
  const add = (name: string): void => {
    script.push(`add ${hex(name)}`);
    model.add(parent + name);
    if (!present.includes(name)) present.push(name);
  };
  while (present.length < peak) add(randomName(rng, next++));
  print();
  for (let round = 0; round < 3; round++) {
    for (let k = rng.int(present.length + 1); k > 0; k--) {
      const name = present.splice(rng.int(present.length), 1)[0]!;
      script.push(`del ${hex(name)}`);
      model.delete(parent + name);
      gone.push(name);
    }
    print();
    for (let k = rng.int(gone.length + 1); k > 0; k--) add(gone.splice(rng.int(gone.length), 1)[0]!);
    for (let k = rng.int(20); k > 0; k--) add(randomName(rng, next++));
    print();
  }
  // A restart: the snapshot lists the children in iteration order, the load re-adds them.
  const order = model.ordered();
  const reloaded = new JavaHashSet(8, parent.length);
  script.push('new 8');
  for (const p of order) {
    reloaded.add(p);
    script.push(`add ${hex(p.substring(parent.length))}`);
  }
  script.push('print');
  expected.push(reloaded.ordered().map((p) => p.substring(parent.length)));
  return { script, expected };
}

/**
 * Nine names in one bucket grow a small table instead of making a tree (from 64 buckets on they
 * would make one, which the model does not follow: see javahash.ts).
 */
function collisionCase(seed: number): Case {
  const rng = new Prng(seed);
  const model = new JavaHashSet(8, 1);
  const script = ['new 8'];
  const names = [...collidingNames(9), ...Array.from({ length: rng.int(12) }, (_, i) => randomName(rng, i))];
  for (let i = names.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  const expected: string[][] = [];
  const bucket = (name: string, capacity: number): number => {
    const h = javaStringHash(name);
    return (h ^ (h >>> 16)) & (capacity - 1);
  };
  for (const name of names) {
    // Where Java would make a tree (64+ buckets, a ninth entry in one bucket), stop.
    const crowd = [...model].filter((p) => bucket(p.substring(1), model.tableSize) === bucket(name, model.tableSize)).length;
    if (model.tableSize >= 64 && crowd >= 8) break;
    model.add(`/${name}`);
    script.push(`add ${hex(name)}`, 'print');
    expected.push(model.ordered().map((p) => p.substring(1)));
  }
  return { script, expected };
}

/** A session's ephemerals (`new HashSet<>()`), then the clone getEphemerals and closeSession use. */
function ephemeralCase(seed: number): Case {
  const rng = new Prng(seed);
  const model = new JavaHashSet(16);
  const script = ['new 0'];
  const expected: string[][] = [];
  const paths: string[] = [];
  for (let i = rng.int(60); i >= 0; i--) {
    const p = `/s${rng.int(5)}/${randomName(rng, i)}`;
    paths.push(p);
    model.add(p);
    script.push(`add ${hex(p)}`);
  }
  for (let k = rng.int(paths.length); k > 0; k--) {
    const p = paths[rng.int(paths.length)]!;
    model.delete(p);
    script.push(`del ${hex(p)}`);
  }
  script.push('print');
  expected.push(model.ordered());
  const clone = javaHashSetClone(model.ordered());
  script.push('clone');
  for (let k = rng.int(5); k > 0; k--) {
    const p = `/pending/${randomName(rng, 1000 + k)}`;
    clone.add(p);
    script.push(`add ${hex(p)}`);
  }
  script.push('print');
  expected.push(clone.ordered());
  return { script, expected };
}

/** A connection's auth ids: its address first, then what addauth added. */
function idsCase(seed: number): { script: string[]; expected: string[] } {
  const rng = new Prng(seed);
  const ids: { scheme: string; id: string }[] = [{ scheme: 'ip', id: rng.pick(['127.0.0.1', '10.0.0.7', '0:0:0:0:0:0:0:1']) }];
  for (let k = rng.int(rng.bool(0.3) ? 30 : 4); k > 0; k--) {
    const user = randomName(rng, k);
    ids.push(rng.bool(0.8) ? { scheme: 'digest', id: digestId(user, `pw${k}`) } : { scheme: 'super', id: '' });
  }
  const unique = ids.filter((a, i) => ids.findIndex((b) => b.scheme === a.scheme && b.id === a.id) === i);
  const script = ['ids', ...unique.map((a) => `id ${hex(a.scheme)} ${hex(a.id)}`), 'printids'];
  const order = javaConcurrentKeySetOrder(unique, (a) => javaIdHash(a.scheme, a.id));
  return { script, expected: [order.map((a) => `${hex(a.scheme)}/${hex(a.id)}`).join(',')] };
}

function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

test('child sets, ephemeral sets, their clones and restarts list in the JDK HashSet order', { skip: skipUnlessJava() }, () => {
  const cases = [
    ...Array.from({ length: 150 }, (_, i) => childSetCase(i + 1)),
    ...Array.from({ length: 20 }, (_, i) => collisionCase(i + 1)),
    ...Array.from({ length: 50 }, (_, i) => ephemeralCase(i + 1)),
  ];
  const printed = runJava(cases.flatMap((c) => c.script));
  let line = 0;
  cases.forEach((c, k) => {
    for (const want of c.expected) {
      const got = (printed[line++] ?? '').split(',').filter((h, _i, all) => all.length > 1 || h !== '');
      assert.deepEqual(want, got.map(unhex), `case ${k}, print ${line}`);
    }
  });
  assert.equal(line, printed.length);
});

test('a connection lists its auth ids in the order of the JDK ConcurrentHashMap key set', { skip: skipUnlessJava() }, () => {
  const cases = Array.from({ length: 100 }, (_, i) => idsCase(i + 1));
  const printed = runJava(cases.flatMap((c) => c.script));
  assert.deepEqual(printed, cases.map((c) => c.expected[0]));
});
