/**
 * The opcode table: every ZooKeeper opcode described once, with its request, response and txn
 * records, how the server treats it (kind), the permission it checks and where it may appear in
 * a multi. The codecs below, isWriteOp/isClientOp and the handler tables of prep, apply, reads
 * and the reply path all read this table; none of them switches on the opcode.
 *
 * Adding an opcode: one entry here, then its handler in each table its kind requires (prep for
 * 'write', reads for 'read', ...): those tables are typed against this one, so a missing handler
 * does not compile.
 */
import { JuteError, JuteReader, JuteWriter } from './binary.js';
import type { Codec, RecordCodec } from './codec.js';
import { OpCode, Perm } from './constants.js';
import * as R from './records.js';
import type { MultiResult, Request, RequestOf } from './requests.js';
import type { TxnBody, TxnOf } from './txn.js';

/**
 * How the server handles an opcode:
 * - read: answered from the tree in the session's FIFO order (pipeline/reads.ts);
 * - write: prep makes a txn, the log commits it, apply runs it (prep/prep.ts, tree/apply.ts);
 * - session: a txn made from the session table, not from a request body (create/close session);
 * - local: answered in FIFO order by the pipeline itself, without the tree (ping, setWatches);
 * - connection: answered at once by the connection, out of line (auth, sasl);
 * - none: never a request (a watch notification, the error txn).
 */
export type OpKind = 'read' | 'write' | 'session' | 'local' | 'connection' | 'none';

/** A request body codec; `read` tags the body with the header's opcode. */
export interface RequestCodec {
  read(type: number, r: JuteReader): Request;
  write(w: JuteWriter, req: Request): void;
}

/** A txn body codec, in ZooKeeper's log format. */
export interface TxnCodec {
  read(type: number, r: JuteReader): TxnBody;
  write(w: JuteWriter, body: TxnBody): void;
}

export interface OpSpec<C extends number = number, K extends OpKind = OpKind> {
  readonly code: C;
  readonly name: string;
  readonly kind: K;
  /** False for opcodes a client may not send outside a multi (ZooKeeper's Request.isValid). */
  readonly client: boolean;
  /** Null when no client sends this opcode's body. */
  readonly request: RequestCodec | null;
  /** Null when the reply has no body. */
  readonly response: Codec<any> | null;
  /** Null when the opcode is never logged. */
  readonly txn: TxnCodec | null;
  /**
   * The permission the op checks: on the parent for create and delete, on the node otherwise
   * (getACL: either bit). 0: none. Handlers read it from here.
   */
  readonly perm: number;
  /** Which kind of multi may hold the op: multi takes writes, multiRead takes reads. */
  readonly inMulti: 'write' | 'read' | null;
  /** The type a multi reply's result header carries for the op (ZooKeeper's OpResult type). */
  readonly multiResultType: number;
}

interface Parts {
  client?: boolean;
  request?: RequestCodec | null;
  response?: Codec<any> | null;
  txn?: TxnCodec | null;
  perm?: number;
  inMulti?: 'write' | 'read' | null;
  multiResultType?: number;
}

function op<C extends number, K extends OpKind>(name: keyof typeof OpCode, code: C, kind: K, p: Parts): OpSpec<C, K> {
  return {
    code,
    name,
    kind,
    client: p.client ?? kind !== 'none',
    request: p.request ?? null,
    response: p.response ?? null,
    txn: p.txn ?? null,
    perm: p.perm ?? 0,
    inMulti: p.inMulti ?? null,
    multiResultType: p.multiResultType ?? code,
  };
}

// ---- request codecs ----

/** A request whose record is its body with the opcode added. */
function plainRequest(rec: RecordCodec<any>): RequestCodec {
  return { read: (type, r) => rec.readAs(r, type), write: (w, req) => rec.write(w, req) };
}

const EMPTY_REQUEST: RequestCodec = { read: (type) => ({ type }) as Request, write: () => undefined };

const createRequest: RequestCodec = {
  read(type, r) {
    const v = R.CreateRequest.read(r);
    return { type, path: v.path, data: v.data, acl: v.acl, flags: v.flags, ttl: -1 } as Request;
  },
  write: (w, req) => R.CreateRequest.write(w, req as RequestOf<typeof OpCode.create>),
};

const createTTLRequest: RequestCodec = {
  read(type, r) {
    const v = R.CreateTTLRequest.read(r);
    return { type, path: v.path, data: v.data, acl: v.acl, flags: v.flags, ttl: v.ttl } as Request;
  },
  write: (w, req) => R.CreateTTLRequest.write(w, req as RequestOf<typeof OpCode.createTTL>),
};

const watchesRequest: RequestCodec = {
  read(type, r) {
    const v = R.WatchesRequest.read(r);
    return { type, path: v.path, watcherType: v.type } as Request;
  },
  write(w, req) {
    const q = req as RequestOf<typeof OpCode.checkWatches>;
    R.WatchesRequest.write(w, { path: q.path, type: q.watcherType });
  },
};

const authRequest: RequestCodec = {
  read(type, r) {
    const v = R.AuthPacket.read(r);
    return { type, authType: v.type, scheme: v.scheme, auth: v.auth ?? Buffer.alloc(0) } as Request;
  },
  write(w, req) {
    const q = req as RequestOf<typeof OpCode.auth>;
    R.AuthPacket.write(w, { type: q.authType, scheme: q.scheme, auth: q.auth });
  },
};

/** SetWatches lacks the persistent lists of SetWatches2: they read as empty. */
const setWatchesRequest: RequestCodec = {
  read(type, r) {
    const v = R.SetWatches.read(r);
    return { type, ...v, persistentWatches: [], persistentRecursiveWatches: [] } as Request;
  },
  write: (w, req) => R.SetWatches.write(w, req as RequestOf<typeof OpCode.setWatches>),
};

/** A MultiOperationRecord: each op behind a MultiHeader, up to the {-1, true, -1} terminator. */
const multiRequest: RequestCodec = {
  read: (type, r) => ({ type, ops: readMultiOps(r) }) as Request,
  write(w, req) {
    for (const sub of (req as RequestOf<typeof OpCode.multi>).ops) {
      R.MultiHeader.write(w, { type: sub.type, done: false, err: -1 });
      writeRequest(w, sub);
    }
    R.MultiHeader.write(w, { type: -1, done: true, err: -1 });
  },
};

/** Nested multis and ops no multi may hold are refused. */
function readMultiOps(r: JuteReader): Request[] {
  const ops: Request[] = [];
  for (;;) {
    const h = R.MultiHeader.read(r);
    if (h.done) return ops;
    if (opSpec(h.type)?.inMulti == null) throw new JuteError(`op type ${h.type} is not allowed in a multi`);
    if (ops.length >= 100_000) throw new JuteError('too many ops in multi');
    ops.push(readRequest(h.type, r));
  }
}

// ---- response codecs ----

/** A MultiResponse: each result behind a MultiHeader; a failed op is an ErrorResponse (type -1). */
const multiResponse: Codec<MultiResult[]> = {
  read(r) {
    const results: MultiResult[] = [];
    for (;;) {
      const h = R.MultiHeader.read(r);
      if (h.done) return results;
      if (h.type === OpCode.error) {
        results.push({ type: OpCode.error, err: R.ErrorResponse.read(r).err, body: null });
        continue;
      }
      const codec = responseCodec(h.type);
      results.push({ type: h.type, err: 0, body: codec ? codec.read(r) : null });
    }
  },
  write(w, results) {
    for (const res of results) {
      if (res.err !== 0 || res.type === OpCode.error) {
        R.MultiHeader.write(w, { type: OpCode.error, done: false, err: res.err });
        R.ErrorResponse.write(w, { err: res.err });
        continue;
      }
      R.MultiHeader.write(w, { type: res.type, done: false, err: 0 });
      responseCodec(res.type)?.write(w, res.body);
    }
    R.MultiHeader.write(w, { type: -1, done: true, err: -1 });
  },
  minBytes: 9,
};

// ---- txn codecs ----

function plainTxn(rec: RecordCodec<any>): TxnCodec {
  return { read: (type, r) => rec.readAs(r, type), write: (w, body) => rec.write(w, body) };
}

/** CreateTxnV0 (before 3.3) lacks parentCVersion; ZooKeeper tolerates it, so do we. */
const createTxn: TxnCodec = {
  read(type, r) {
    const path = r.string();
    const data = r.bufferOrNull();
    const acl = R.ACLs.read(r);
    const ephemeral = r.bool();
    const parentCVersion = r.remaining() >= 4 ? r.int() : -1;
    return { type, path, data, acl, ephemeral, parentCVersion } as TxnBody;
  },
  write: (w, body) => R.CreateTxn.write(w, body as TxnOf<typeof OpCode.create>),
};

/** ZooKeeper logs an empty body when closeSessionTxn.enabled is off. */
const closeSessionTxn: TxnCodec = {
  read: (type, r) => ({ type, paths2Delete: r.remaining() > 0 ? R.CloseSessionTxn.read(r).paths2Delete : [] }) as TxnBody,
  write: (w, body) => R.CloseSessionTxn.write(w, body as TxnOf<typeof OpCode.closeSession>),
};

/**
 * MultiTxn: vector<Txn{int type, buffer data}>. Each body is written in place and its length
 * filled in after (the same bytes as encoding it separately, without the copy).
 */
const multiTxn: TxnCodec = {
  read(type, r) {
    const { txns } = R.MultiTxn.read(r);
    return {
      type,
      txns: txns.map((t) => {
        const data = t.data ?? Buffer.alloc(0);
        return readTxnBody(t.type, new JuteReader(data, 0, data.length, r.maxLength));
      }),
    } as TxnBody;
  },
  write(w, body) {
    const { txns } = body as TxnOf<typeof OpCode.multi>;
    w.int(txns.length);
    for (const t of txns) {
      w.int(t.type);
      const at = w.beginFrame();
      writeTxnBody(w, t);
      w.endFrame(at);
    }
  },
};

// ---- the table ----

const pathWatch = plainRequest(R.PathWatchRequest);
const pathOnly = plainRequest(R.PathRequest);
const deleteRequest = plainRequest(R.DeleteRequest);
const deleteTxn = plainTxn(R.DeleteTxn);
const setDataTxn = plainTxn(R.SetDataTxn);

export const Ops = {
  notification: op('notification', OpCode.notification, 'none', {}),
  create: op('create', OpCode.create, 'write', {
    request: createRequest,
    response: R.CreateResponse,
    txn: createTxn,
    perm: Perm.CREATE,
    inMulti: 'write',
  }),
  delete: op('delete', OpCode.delete, 'write', { request: deleteRequest, txn: deleteTxn, perm: Perm.DELETE, inMulti: 'write' }),
  exists: op('exists', OpCode.exists, 'read', { request: pathWatch, response: R.StatResponse, perm: Perm.READ }),
  getData: op('getData', OpCode.getData, 'read', { request: pathWatch, response: R.GetDataResponse, perm: Perm.READ, inMulti: 'read' }),
  setData: op('setData', OpCode.setData, 'write', {
    request: plainRequest(R.SetDataRequest),
    response: R.StatResponse,
    txn: setDataTxn,
    perm: Perm.WRITE,
    inMulti: 'write',
  }),
  getACL: op('getACL', OpCode.getACL, 'read', { request: pathOnly, response: R.GetACLResponse, perm: Perm.READ | Perm.ADMIN }),
  setACL: op('setACL', OpCode.setACL, 'write', {
    request: plainRequest(R.SetACLRequest),
    response: R.StatResponse,
    txn: plainTxn(R.SetACLTxn),
    perm: Perm.ADMIN,
  }),
  getChildren: op('getChildren', OpCode.getChildren, 'read', {
    request: pathWatch,
    response: R.GetChildrenResponse,
    perm: Perm.READ,
    inMulti: 'read',
  }),
  sync: op('sync', OpCode.sync, 'read', { request: pathOnly, response: R.SyncResponse }),
  ping: op('ping', OpCode.ping, 'local', { request: EMPTY_REQUEST }),
  getChildren2: op('getChildren2', OpCode.getChildren2, 'read', { request: pathWatch, response: R.GetChildren2Response, perm: Perm.READ }),
  // A bare check is not a valid request: it only appears inside a multi.
  check: op('check', OpCode.check, 'write', {
    client: false,
    request: plainRequest(R.CheckVersionRequest),
    txn: plainTxn(R.CheckVersionTxn),
    perm: Perm.READ,
    inMulti: 'write',
  }),
  multi: op('multi', OpCode.multi, 'write', { request: multiRequest, response: multiResponse, txn: multiTxn }),
  create2: op('create2', OpCode.create2, 'write', {
    request: createRequest,
    response: R.Create2Response,
    txn: createTxn,
    perm: Perm.CREATE,
    inMulti: 'write',
  }),
  // Standalone, reconfigEnabled=false: prep refuses it, but it decodes and logs as setData does.
  reconfig: op('reconfig', OpCode.reconfig, 'write', {
    request: plainRequest(R.ReconfigRequest),
    response: R.GetDataResponse,
    txn: setDataTxn,
  }),
  checkWatches: op('checkWatches', OpCode.checkWatches, 'read', { request: watchesRequest }),
  removeWatches: op('removeWatches', OpCode.removeWatches, 'read', { request: watchesRequest }),
  createContainer: op('createContainer', OpCode.createContainer, 'write', {
    request: createRequest,
    response: R.Create2Response,
    txn: plainTxn(R.CreateContainerTxn),
    perm: Perm.CREATE,
    inMulti: 'write',
    multiResultType: OpCode.create2,
  }),
  // Internal here: the container sweep issues it (see docs/compatibility.md).
  deleteContainer: op('deleteContainer', OpCode.deleteContainer, 'write', { client: false, request: deleteRequest, txn: deleteTxn }),
  createTTL: op('createTTL', OpCode.createTTL, 'write', {
    request: createTTLRequest,
    response: R.Create2Response,
    txn: plainTxn(R.CreateTTLTxn),
    perm: Perm.CREATE,
    inMulti: 'write',
    multiResultType: OpCode.create2,
  }),
  multiRead: op('multiRead', OpCode.multiRead, 'read', { request: multiRequest, response: multiResponse }),
  auth: op('auth', OpCode.auth, 'connection', { request: authRequest }),
  setWatches: op('setWatches', OpCode.setWatches, 'local', { request: setWatchesRequest }),
  sasl: op('sasl', OpCode.sasl, 'connection', { request: plainRequest(R.GetSASLRequest), response: R.SetSASLResponse }),
  getEphemerals: op('getEphemerals', OpCode.getEphemerals, 'read', { request: pathOnly, response: R.GetEphemeralsResponse }),
  getAllChildrenNumber: op('getAllChildrenNumber', OpCode.getAllChildrenNumber, 'read', {
    request: pathOnly,
    response: R.GetAllChildrenNumberResponse,
    perm: Perm.READ,
  }),
  setWatches2: op('setWatches2', OpCode.setWatches2, 'local', { request: plainRequest(R.SetWatches2) }),
  addWatch: op('addWatch', OpCode.addWatch, 'read', { request: plainRequest(R.AddWatchRequest), response: R.ErrorResponse }),
  whoAmI: op('whoAmI', OpCode.whoAmI, 'read', { request: EMPTY_REQUEST, response: R.WhoAmIResponse }),
  // createSession arrives as the handshake (ConnectRequest), never as a request.
  createSession: op('createSession', OpCode.createSession, 'session', { client: false, txn: plainTxn(R.CreateSessionTxn) }),
  closeSession: op('closeSession', OpCode.closeSession, 'session', { request: EMPTY_REQUEST, txn: closeSessionTxn }),
  error: op('error', OpCode.error, 'none', { txn: plainTxn(R.ErrorTxn) }),
} as const satisfies { [N in keyof typeof OpCode]: OpSpec<(typeof OpCode)[N]> };

type Table = typeof Ops;
/** The opcodes of one kind, as a union of literals: handler tables are typed with it. */
export type OpOfKind<K extends OpKind> = { [N in keyof Table]: Table[N]['kind'] extends K ? Table[N]['code'] : never }[keyof Table];
export type ReadOp = OpOfKind<'read'>;
export type WriteOp = OpOfKind<'write'>;
export type LocalOp = OpOfKind<'local'>;
export type ConnectionOp = OpOfKind<'connection'>;

// Opcodes run from -11 (closeSession) to 107 (whoAmI): an array indexed by opcode is the lookup.
const MIN_CODE = -16;
const MAX_CODE = 127;

/** Handlers (or anything) per opcode, looked up by array index: the dispatch of each layer. */
export class OpMap<T> {
  // Built with Array.from, not new Array(n): a packed array, which V8 indexes fastest.
  private readonly slots: (T | undefined)[] = Array.from({ length: MAX_CODE - MIN_CODE + 1 }, () => undefined);

  constructor(entries: { readonly [code: number]: T }) {
    for (const [code, value] of Object.entries(entries)) {
      const n = Number(code);
      if (!Number.isInteger(n) || n < MIN_CODE || n > MAX_CODE) throw new Error(`opcode ${code} is outside the table's range`);
      this.slots[n - MIN_CODE] = value;
    }
  }

  get(code: number): T | undefined {
    return code >= MIN_CODE && code <= MAX_CODE ? this.slots[code - MIN_CODE] : undefined;
  }
}

const specs = new OpMap<OpSpec>(Object.fromEntries(Object.values(Ops).map((s) => [s.code, s as OpSpec])));

/** The table's entry for an opcode, or undefined for one ZooKeeper does not define. */
export function opSpec(code: number): OpSpec | undefined {
  return specs.get(code);
}

export class UnknownOpError extends JuteError {
  override name = 'UnknownOpError';
  constructor(readonly opcode: number) {
    super(`unknown opcode ${opcode}`);
  }
}

/** Decodes the body of a request whose header says `type`. Throws JuteError on malformed input. */
export function readRequest(type: number, r: JuteReader): Request {
  const codec = specs.get(type)?.request;
  if (!codec) throw new UnknownOpError(type);
  return codec.read(type, r);
}

/** Encodes a request body (the client's direction). */
export function writeRequest(w: JuteWriter, req: Request): void {
  specs.get(req.type)?.request?.write(w, req);
}

/** The codec of the reply body for an opcode, or null when the reply has no body. */
export function responseCodec(type: number): Codec<any> | null {
  return specs.get(type)?.response ?? null;
}

export function writeTxnBody(w: JuteWriter, body: TxnBody): void {
  const codec = specs.get(body.type)?.txn;
  if (!codec) throw new JuteError(`unknown txn type ${body.type}`);
  codec.write(w, body);
}

export function readTxnBody(type: number, r: JuteReader): TxnBody {
  const codec = specs.get(type)?.txn;
  if (!codec) throw new JuteError(`unknown txn type ${type}`);
  return codec.read(type, r);
}

/** Ops that change state go through prep and the log; everything else is answered directly. */
export function isWriteOp(type: number): boolean {
  const kind = specs.get(type)?.kind;
  return kind === 'write' || kind === 'session';
}

/**
 * Opcodes a client may send outside a multi (ZooKeeper's Request.isValid). Unknown opcodes
 * count as valid here: decoding them is what fails.
 */
export function isClientOp(type: number): boolean {
  return specs.get(type)?.client ?? true;
}
