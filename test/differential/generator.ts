/**
 * Seeded generator of random operation sequences for the differential test. A sequence is a
 * plain list of ops fixed in advance from the seed (it never looks at replies), so the same list
 * runs against both servers. Paths come from a small space under the sequence's own prefix
 * `/s<seed>`, so creates collide, versions are often right, and sequential names get reused.
 */
import { createHash } from 'node:crypto';
import { AddWatchMode, CreateMode, OpCode, Perm, WatcherType, type ACL, type Request } from '../../src/jute/index.js';
import { Prng } from '../../src/lib/prng.js';

export type DiffOp =
  /** Opens a new session in slot `session` (slots are never reused). */
  | { kind: 'connect'; session: number; timeoutMs: number }
  /** closeSession, then wait for the socket to close. */
  | { kind: 'close'; session: number }
  /** Stop talking on a short-timeout session and wait until the server expires it. */
  | { kind: 'expire'; session: number }
  /** A request; `barrier` requests are sent alone (no other reply outstanding on any session). */
  | { kind: 'request'; session: number; req: Request; barrier?: boolean };

export interface Sequence {
  seed: number;
  prefix: string;
  ops: DiffOp[];
}

export interface GeneratorOptions {
  ops: number;
  /** Allow `expire` ops (they cost about a second of wall time each). */
  expiry: boolean;
}

export const SHORT_SESSION_TIMEOUT_MS = 600;
export const SESSION_TIMEOUT_MS = 30_000;

const world = { scheme: 'world', id: 'anyone' };
export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}
const alice = { scheme: 'digest', id: digestId('alice', 'secret') };
const bob = { scheme: 'digest', id: digestId('bob', 'pw') };

/**
 * ACL choices: open, read-only, digest-protected, creator-only, partial perms, invalid ones.
 * `hidesRead`: some session may lack READ. ZooKeeper 3.8.0 (the reference) lets exists and watch
 * events through without READ; 3.8.4+/3.9.2+ and Paddock do not (divergences.ts: read-acl-checks).
 * So such ACLs go only on the `c` subtree, which never gets exists requests or watches.
 */
const ACLS: { weight: number; acl: ACL[]; hidesRead?: boolean }[] = [
  { weight: 10, acl: [{ perms: Perm.ALL, id: world }] },
  { weight: 2, acl: [{ perms: Perm.READ, id: world }] },
  { weight: 2, acl: [{ perms: Perm.ALL, id: alice }, { perms: Perm.READ, id: world }] },
  { weight: 2, acl: [{ perms: Perm.ALL, id: alice }], hidesRead: true },
  { weight: 1, acl: [{ perms: Perm.READ | Perm.CREATE, id: bob }, { perms: Perm.READ | Perm.WRITE, id: world }] },
  { weight: 2, acl: [{ perms: Perm.ALL, id: { scheme: 'auth', id: '' } }], hidesRead: true },
  { weight: 1, acl: [{ perms: Perm.CREATE | Perm.READ, id: world }] },
  { weight: 1, acl: [{ perms: Perm.ALL & ~Perm.READ, id: world }], hidesRead: true },
  { weight: 1, acl: [{ perms: Perm.ALL, id: { scheme: 'ip', id: '127.0.0.1' } }] },
  { weight: 1, acl: [{ perms: Perm.ALL, id: world }, { perms: Perm.ALL, id: world }] },
  { weight: 1, acl: [] },
  { weight: 1, acl: [{ perms: Perm.ALL, id: { scheme: 'bogus', id: 'x' } }] },
  { weight: 1, acl: [{ perms: Perm.ALL, id: { scheme: 'digest', id: 'not-a-digest' } }] },
];

const AUTHS: { weight: number; scheme: string; auth: string }[] = [
  { weight: 4, scheme: 'digest', auth: 'alice:secret' },
  { weight: 2, scheme: 'digest', auth: 'bob:pw' },
  { weight: 1, scheme: 'digest', auth: 'alice:wrong' },
  // An unknown scheme: AUTHFAILED and the server closes the connection.
  { weight: 1, scheme: 'nosuchscheme', auth: 'x' },
  // ZooKeeper ignores the bytes and adds the client's own address (which it already has).
  { weight: 1, scheme: 'ip', auth: '10.1.2.3' },
];

function weighted<T extends { weight: number }>(rng: Prng, items: readonly T[]): T {
  let total = 0;
  for (const it of items) total += it.weight;
  let x = rng.next() * total;
  for (const it of items) {
    x -= it.weight;
    if (x < 0) return it;
  }
  return items[items.length - 1]!;
}

export function generate(seed: number, options: GeneratorOptions): Sequence {
  const rng = new Prng(seed);
  const prefix = `/s${seed}`;
  const ops: DiffOp[] = [];
  const alive: number[] = [];
  let nextSession = 0;

  const names = ['a', 'b', 'c', 'a/x', 'a/y', 'b/x', 'a/x/z', 'c/x', 'e', 'e/x'];
  const seqNames = ['q', 'a/q', 'c/q'];
  const seqSuffixes = ['0000000000', '0000000001', '0000000002', '0000000003'];
  const invalid = [
    '',
    'relative',
    `${prefix}/a/`,
    `${prefix}//a`,
    `${prefix}/./a`,
    `${prefix}/a/..`,
    `${prefix}/a\u0001`,
    `${prefix}/a\u0000b`,
    `${prefix}/\u{1F600}`,
    '/zookeeper',
    '/zookeeper/quota',
  ];

  /** The subtree where READ-hiding ACLs may live; never watched, never asked exists. */
  const hidden = `${prefix}/c`;
  const isHidden = (p: string): boolean => p === hidden || p.startsWith(`${hidden}/`);
  /** A path for a read or watch: never one of the hidden subtree ("" reads the root, as in ZooKeeper). */
  const visiblePath = (): string => {
    for (;;) {
      const p = somePath();
      if (!isHidden(p)) return p;
    }
  };
  const somePath = (): string => {
    const x = rng.next();
    if (x < 0.06) return rng.pick(invalid);
    if (x < 0.1) return prefix;
    if (x < 0.25) return `${prefix}/${rng.pick(seqNames)}${rng.pick(seqSuffixes)}`;
    return `${prefix}/${rng.pick(names)}`;
  };
  /** A delete's path: now and then the root, which ZooKeeper refuses as a special path (BADARGUMENTS). */
  const deletePath = (): string => (rng.bool(0.03) ? '/' : somePath());
  /** A create path: sometimes a sequential base, which may end in '/'. */
  const createPath = (sequential: boolean): string => {
    if (sequential && rng.bool(0.8)) return rng.bool(0.1) ? `${prefix}/a/` : `${prefix}/${rng.pick(seqNames)}`;
    return somePath();
  };
  const data = (): Buffer | null => {
    const x = rng.next();
    if (x < 0.1) return null;
    if (x < 0.2) return Buffer.alloc(0);
    const len = 1 + rng.int(12);
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = rng.int(256);
    return b;
  };
  const version = (): number => rng.pick([-1, -1, 0, 0, 0, 1, 1, 2, 3, 7]);
  const acl = (path: string): ACL[] => weighted(rng, isHidden(path) ? ACLS : ACLS.filter((a) => !a.hidesRead)).acl;

  const createReq = (): Request => {
    const opcode = weighted(rng, [
      { weight: 4, v: OpCode.create },
      { weight: 3, v: OpCode.create2 },
      { weight: 1, v: OpCode.createContainer },
      { weight: 1, v: OpCode.createTTL },
    ]).v;
    let flags: number;
    let ttl = -1;
    if (opcode === OpCode.createContainer) {
      flags = rng.bool(0.9) ? CreateMode.CONTAINER : rng.pick([0, 1, 5]);
    } else if (opcode === OpCode.createTTL) {
      flags = rng.bool(0.85) ? rng.pick([CreateMode.PERSISTENT_WITH_TTL, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL]) : rng.pick([0, 1, 2, 4]);
      // Long TTLs: expiry is time-based, so it must never happen during a run.
      ttl = rng.pick([3_600_000, 86_400_000, 1_099_511_627_775, 0, -5, 1_099_511_627_776]);
      if (ttl <= 0 || ttl > 1_099_511_627_775) ttl = rng.bool(0.5) ? ttl : 3_600_000;
      // ZooKeeper 3.8.0 dies on a negative ttl with a non-TTL mode (divergences.ts: createTTL-negative-ttl).
      if (ttl < 0 && flags !== CreateMode.PERSISTENT_WITH_TTL && flags !== CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL) ttl = 0;
    } else {
      flags = weighted(rng, [
        { weight: 5, v: CreateMode.PERSISTENT },
        { weight: 3, v: CreateMode.EPHEMERAL },
        { weight: 2, v: CreateMode.PERSISTENT_SEQUENTIAL },
        { weight: 2, v: CreateMode.EPHEMERAL_SEQUENTIAL },
        { weight: 1, v: CreateMode.CONTAINER },
        { weight: 1, v: CreateMode.PERSISTENT_WITH_TTL },
        { weight: 1, v: 9 },
      ]).v;
    }
    const sequential = flags === 2 || flags === 3 || flags === 6;
    const path = createPath(sequential);
    return { type: opcode, path, data: data(), acl: acl(path), flags, ttl };
  };

  const writeInMulti = (): Request => {
    const x = rng.next();
    if (x < 0.4) return createReq();
    if (x < 0.6) return { type: OpCode.delete, path: deletePath(), version: version() };
    if (x < 0.8) return { type: OpCode.setData, path: somePath(), data: data(), version: version() };
    return { type: OpCode.check, path: somePath(), version: version() };
  };
  const readPath = (): string => somePath();
  const readInMulti = (): Request =>
    rng.bool(0.5)
      ? { type: OpCode.getData, path: readPath(), watch: false }
      : { type: OpCode.getChildren, path: readPath(), watch: false };

  const request = (): { req: Request; barrier?: boolean } => {
    const pick = weighted(rng, [
      { weight: 14, v: 'create' },
      { weight: 5, v: 'delete' },
      { weight: 6, v: 'setData' },
      { weight: 5, v: 'exists' },
      { weight: 6, v: 'getData' },
      { weight: 4, v: 'getChildren' },
      { weight: 3, v: 'getChildren2' },
      { weight: 5, v: 'multi' },
      { weight: 2, v: 'multiRead' },
      { weight: 2, v: 'getACL' },
      { weight: 2, v: 'setACL' },
      { weight: 2, v: 'auth' },
      { weight: 3, v: 'addWatch' },
      { weight: 2, v: 'removeWatches' },
      { weight: 2, v: 'checkWatches' },
      { weight: 1, v: 'getEphemerals' },
      { weight: 1, v: 'getAllChildrenNumber' },
      { weight: 1, v: 'whoAmI' },
      { weight: 1, v: 'sync' },
    ] as const).v;
    switch (pick) {
      case 'create': {
        // A barrier when the flags do not match the opcode (e.g. createContainer with EPHEMERAL):
        // ZooKeeper 3.8's pending-change record then disagrees with the node it applies, so a
        // request pipelined behind it sees one or the other depending on timing.
        const req = createReq() as Extract<Request, { flags: number }>;
        const natural =
          req.type === OpCode.createContainer
            ? req.flags === CreateMode.CONTAINER
            : req.type === OpCode.createTTL
              ? req.flags === CreateMode.PERSISTENT_WITH_TTL || req.flags === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL
              : req.flags <= CreateMode.EPHEMERAL_SEQUENTIAL;
        return { req, barrier: !natural };
      }
      case 'delete':
        return { req: { type: OpCode.delete, path: deletePath(), version: version() } };
      case 'setData':
        return { req: { type: OpCode.setData, path: somePath(), data: data(), version: version() } };
      case 'exists':
        return { req: { type: OpCode.exists, path: visiblePath(), watch: rng.bool(0.6) } };
      case 'getData':
      case 'getChildren':
      case 'getChildren2': {
        const path = readPath();
        return { req: { type: OpCode[pick], path, watch: !isHidden(path) && rng.bool(0.6) } };
      }
      case 'multi': {
        const n = rng.int(5);
        const ops: Request[] = [];
        for (let i = 0; i < n; i++) ops.push(writeInMulti());
        if (rng.bool(0.03)) ops.push(readInMulti()); // mixing reads into a write multi
        // A barrier: in ZooKeeper 3.8 a write pipelined right behind a failed multi is prepared
        // against rolled-back pending changes or against the tree, depending on timing.
        return { req: { type: OpCode.multi, ops }, barrier: true };
      }
      case 'multiRead': {
        const n = 1 + rng.int(4);
        const ops: Request[] = [];
        for (let i = 0; i < n; i++) ops.push(readInMulti());
        return { req: { type: OpCode.multiRead, ops } };
      }
      case 'getACL':
        return { req: { type: OpCode.getACL, path: readPath() } };
      case 'setACL': {
        // A barrier: ZooKeeper 3.8's prep stage checks a pipelined request against the node's old
        // ACL until the setACL is applied (its change record lacks the new ACL), so what follows a
        // setACL in the pipeline is timing-dependent on the reference.
        const path = somePath();
        return {
          req: { type: OpCode.setACL, path, acl: acl(path), version: rng.pick([-1, 0, 0, 1, 2]) },
          barrier: true,
        };
      }
      case 'auth': {
        const a = weighted(rng, AUTHS);
        return { req: { type: OpCode.auth, authType: 0, scheme: a.scheme, auth: Buffer.from(a.auth) }, barrier: true };
      }
      case 'addWatch': {
        const path = visiblePath();
        let mode: number = rng.bool(0.97) ? rng.pick([AddWatchMode.Persistent, AddWatchMode.PersistentRecursive]) : 2;
        // A recursive watch above the hidden subtree would see its events.
        if (mode === AddWatchMode.PersistentRecursive && (path === prefix || path === '/')) mode = AddWatchMode.Persistent;
        persistent.add(`${current} ${path}`);
        return { req: { type: OpCode.addWatch, path, mode } };
      }
      case 'removeWatches':
      case 'checkWatches': {
        // WatcherType 4/5 are 3.9-only: see divergences.ts (watcher-type-persistent). Children/Data
        // on a path with a persistent watch differ between 3.8 and 3.9 (persistent-watch-removal),
        // so there the generator asks for Any, whose meaning both agree on.
        const path = somePath();
        let watcherType: number = rng.pick([WatcherType.Children, WatcherType.Data, WatcherType.Any, WatcherType.Any]);
        const key = `${current} ${path}`;
        if (persistent.has(key)) watcherType = WatcherType.Any;
        if (pick === 'removeWatches' && watcherType === WatcherType.Any) persistent.delete(key);
        return { req: { type: OpCode[pick], path, watcherType } };
      }
      case 'getEphemerals':
        return { req: { type: OpCode.getEphemerals, path: rng.pick([prefix, `${prefix}/a`, '/', `${prefix}/q`]) } };
      case 'getAllChildrenNumber':
        return { req: { type: OpCode.getAllChildrenNumber, path: rng.bool(0.7) ? prefix : somePath() } };
      case 'whoAmI':
        return { req: { type: OpCode.whoAmI } };
      case 'sync': {
        // Never an invalid path: ZooKeeper 3.8 never answers some (divergences.ts: sync-invalid-path).
        const p = somePath();
        return { req: { type: OpCode.sync, path: rng.bool(0.7) || invalid.includes(p) ? prefix : p } };
      }
    }
  };

  const connect = (timeoutMs = SESSION_TIMEOUT_MS): number => {
    const s = nextSession++;
    ops.push({ kind: 'connect', session: s, timeoutMs });
    alive.push(s);
    return s;
  };
  const kill = (s: number): void => {
    alive.splice(alive.indexOf(s), 1);
  };

  const initial = 2 + rng.int(2);
  for (let i = 0; i < initial; i++) connect();
  ops.push({
    kind: 'request',
    session: alive[0]!,
    req: { type: OpCode.create, path: prefix, data: null, acl: [{ perms: Perm.ALL, id: world }], flags: 0, ttl: -1 },
  });

  let current = alive[0]!;
  /** `${session} ${path}` of every persistent watch added (addWatch always succeeds). */
  const persistent = new Set<string>();
  /** `${session} ${path}` of every standard child watch requested. */
  const childWatched = new Set<string>();
  /** The mode of the first addWatch per `${session} ${path}`. */
  const watchModes = new Map<string, number>();
  let expired = false;
  while (ops.length < options.ops) {
    if (alive.length < 2) connect();
    // Stay on one session for a run of ops (so they pipeline), then switch.
    if (rng.bool(0.3) || !alive.includes(current)) current = rng.pick(alive);
    const x = rng.next();
    if (x < 0.01) {
      ops.push({ kind: 'close', session: current });
      kill(current);
      continue;
    }
    if (x < 0.015 && options.expiry && !expired) {
      // A short-lived session: make ephemerals and watches, then let it expire.
      expired = true;
      const s = connect(SHORT_SESSION_TIMEOUT_MS);
      const n = 1 + rng.int(3);
      for (let i = 0; i < n; i++) {
        const path = `${prefix}/${rng.pick(names)}`;
        ops.push({
          kind: 'request',
          session: s,
          req: { type: OpCode.create, path, data: null, acl: acl(path), flags: 1, ttl: -1 },
        });
      }
      ops.push({ kind: 'request', session: s, req: { type: OpCode.exists, path: visiblePath(), watch: true } });
      ops.push({ kind: 'expire', session: s });
      kill(s);
      continue;
    }
    const { req, barrier } = request();
    // A standard watch where the session already has a persistent one: 3.8.0 keeps one mode per
    // (session, path) and downgrades it; 3.9 and Paddock keep both (divergences.ts: watch-modes).
    if ('watch' in req && req.watch && persistent.has(`${current} ${req.path}`)) req.watch = false;
    // 3.8.0 also files a recursive watch in the child table, replacing a standard child watch there.
    const key = `${current} ${'path' in req ? req.path : ''}`;
    if ((req.type === OpCode.getChildren || req.type === OpCode.getChildren2) && req.watch) childWatched.add(key);
    if (req.type === OpCode.addWatch && req.mode === 1 && childWatched.has(key)) req.mode = 0;
    // 3.8.0 keeps one mode per (session, path): a second addWatch replaces the first one's mode.
    if (req.type === OpCode.addWatch && (req.mode === 0 || req.mode === 1)) {
      const earlier = watchModes.get(key);
      if (earlier !== undefined) req.mode = earlier;
      else watchModes.set(key, req.mode);
    }
    ops.push({ kind: 'request', session: current, req, barrier });
    if (req.type === OpCode.auth && req.scheme === 'nosuchscheme') kill(current);
  }
  // A final barrier per session: every event caused by earlier ops arrives before its reply.
  for (const s of alive) ops.push({ kind: 'request', session: s, req: { type: OpCode.sync, path: prefix } });
  return { seed, prefix, ops };
}
