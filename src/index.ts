/**
 * Paddock's package entry: the ZooKeeper client and its recipes.
 *
 *   import { connect, Mutex } from 'paddock';
 *   await using zk = await connect('127.0.0.1:2181/app');
 *   const lock = await new Mutex(zk, '/locks/job').acquire({ timeoutMs: 5000 });
 */
export * from './client/index.js';
export * from './recipes/index.js';
