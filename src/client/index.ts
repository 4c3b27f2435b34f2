/** The Paddock ZooKeeper client: `import { connect } from 'paddock'`. */
export { connect, ZooKeeperClient, oneShot, DEFAULT_INITIAL_CONNECT_TIMEOUT_MS, type ClientOptions } from './client.js';
export * from './errors.js';
export * from './types.js';
export { Transaction, type TransactionOp, type TransactionResult, type ReadOp, type ReadResult, type CreateOptions } from './transaction.js';
export { parseConnectString, validatePath, joinPath, parentPath, baseName, type HostPort, type ParsedConnectString } from './paths.js';
export { Err as ErrorCode, errName } from '../jute/constants.js';
