/** Every record of ZooKeeper's jute schema (zookeeper.jute) that the client protocol and txn log use. */
import { bigLong, bool, buffer, int, long, record, ustring, vector, type Codec, type Infer } from './codec.js';

export const Id = record({ scheme: ustring, id: ustring });
export type Id = Infer<typeof Id>;
export const ACL = record({ perms: int, id: Id });
export type ACL = Infer<typeof ACL>;
export const ACLs = vector(ACL);

/** The fields Stat and StatPersisted share, in wire order: both start with these. */
function statHead<Z>(zxid: Codec<Z>) {
  return { czxid: zxid, mzxid: zxid, ctime: long, mtime: long, version: int, cversion: int, aversion: int, ephemeralOwner: bigLong };
}

/**
 * The records that carry zxids, declared once for both sides. The server holds a zxid as a
 * number (its zxids stay below 2^53); the client as a bigint, since the server it talks to may
 * be any ZooKeeper, whose zxid passes 2^53 once its epoch passes 2^21.
 */
function zxidRecords<Z>(zxid: Codec<Z>) {
  const Stat = record({ ...statHead(zxid), dataLength: int, numChildren: int, pzxid: zxid });
  return {
    Stat,
    /** ConnectRequest without the trailing readOnly byte, which 3.3-era clients do not send. */
    ConnectRequestBase: record({ protocolVersion: int, lastZxidSeen: zxid, timeOut: int, sessionId: bigLong, passwd: buffer }),
    ReplyHeader: record({ xid: int, zxid, err: int }),
    Create2Response: record({ path: ustring, stat: Stat }),
    /** exists, setData, setACL */
    StatResponse: record({ stat: Stat }),
    GetDataResponse: record({ data: buffer, stat: Stat }),
    GetACLResponse: record({ acl: ACLs, stat: Stat }),
    GetChildren2Response: record({ children: vector(ustring), stat: Stat }),
  };
}

export const { Stat, ConnectRequestBase, ReplyHeader, Create2Response, StatResponse, GetDataResponse, GetACLResponse, GetChildren2Response } =
  zxidRecords(long);
/** The same records with bigint zxids, as the client reads them. */
export const BigZxid = zxidRecords(bigLong);
export type Stat = Infer<typeof Stat>;

/** A node's Stat as ZooKeeper's snapshots store it: no dataLength or numChildren. */
export const StatPersisted = record({ ...statHead(long), pzxid: long });
export type StatPersisted = Infer<typeof StatPersisted>;

export type ConnectRequest = Infer<typeof ConnectRequestBase> & { readOnly: boolean | undefined };
export const ConnectResponseBase = record({
  protocolVersion: int,
  timeOut: int,
  sessionId: bigLong,
  passwd: buffer,
});
export type ConnectResponse = Infer<typeof ConnectResponseBase> & { readOnly: boolean | undefined };

export const RequestHeader = record({ xid: int, type: int });
export type RequestHeader = Infer<typeof RequestHeader>;
export type ReplyHeader = Infer<typeof ReplyHeader>;

// Requests
export const CreateRequest = record({ path: ustring, data: buffer, acl: ACLs, flags: int });
export type CreateRequest = Infer<typeof CreateRequest>;
export const CreateTTLRequest = record({ path: ustring, data: buffer, acl: ACLs, flags: int, ttl: long });
export type CreateTTLRequest = Infer<typeof CreateTTLRequest>;
export const DeleteRequest = record({ path: ustring, version: int });
export const PathWatchRequest = record({ path: ustring, watch: bool }); // exists, getData, getChildren(2)
export const SetDataRequest = record({ path: ustring, data: buffer, version: int });
export const PathRequest = record({ path: ustring }); // getACL, sync, getAllChildrenNumber, getEphemerals
export const SetACLRequest = record({ path: ustring, acl: ACLs, version: int });
export const CheckVersionRequest = record({ path: ustring, version: int });
export const WatchesRequest = record({ path: ustring, type: int }); // checkWatches, removeWatches
export const AuthPacket = record({ type: int, scheme: ustring, auth: buffer });
export const SetWatches = record({
  relativeZxid: long,
  dataWatches: vector(ustring),
  existWatches: vector(ustring),
  childWatches: vector(ustring),
});
export const SetWatches2 = record({
  relativeZxid: long,
  dataWatches: vector(ustring),
  existWatches: vector(ustring),
  childWatches: vector(ustring),
  persistentWatches: vector(ustring),
  persistentRecursiveWatches: vector(ustring),
});
export const AddWatchRequest = record({ path: ustring, mode: int });
export const ReconfigRequest = record({
  joiningServers: ustring,
  leavingServers: ustring,
  newMembers: ustring,
  curConfigId: long,
});
export const GetSASLRequest = record({ token: buffer });
export const MultiHeader = record({ type: int, done: bool, err: int });
export type MultiHeader = Infer<typeof MultiHeader>;

// Responses
export const CreateResponse = record({ path: ustring });
export const GetChildrenResponse = record({ children: vector(ustring) });
export const SyncResponse = record({ path: ustring });
export const ErrorResponse = record({ err: int });
export const GetEphemeralsResponse = record({ ephemerals: vector(ustring) });
export const GetAllChildrenNumberResponse = record({ totalNumber: int });
export const ClientInfo = record({ authScheme: ustring, user: ustring });
export const WhoAmIResponse = record({ clientInfo: vector(ClientInfo) });
export const SetSASLResponse = record({ token: buffer });
export const WatcherEvent = record({ type: int, state: int, path: ustring });
export type WatcherEvent = Infer<typeof WatcherEvent>;

// Transactions, in the txn log's format
export const TxnHeaderRecord = record({ clientId: bigLong, cxid: int, zxid: long, time: long, type: int });
export type TxnHeaderRecord = Infer<typeof TxnHeaderRecord>;
export const CreateTxn = record({ path: ustring, data: buffer, acl: ACLs, ephemeral: bool, parentCVersion: int });
export const CreateTTLTxn = record({ path: ustring, data: buffer, acl: ACLs, parentCVersion: int, ttl: long });
export const CreateContainerTxn = record({ path: ustring, data: buffer, acl: ACLs, parentCVersion: int });
export const DeleteTxn = record({ path: ustring });
export const SetDataTxn = record({ path: ustring, data: buffer, version: int });
export const CheckVersionTxn = record({ path: ustring, version: int });
export const SetACLTxn = record({ path: ustring, acl: ACLs, version: int });
export const CreateSessionTxn = record({ timeOut: int });
export const CloseSessionTxn = record({ paths2Delete: vector(ustring) });
export const ErrorTxn = record({ err: int });
export const TxnEntry = record({ type: int, data: buffer });
export const MultiTxn = record({ txns: vector(TxnEntry) });
export const TxnDigest = record({ version: int, treeDigest: long });
