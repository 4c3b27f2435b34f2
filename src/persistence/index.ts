export * from './errors.js';
export * from './logformat.js';
export * from './txnlog.js';
export * from './snapshots.js';
export * from './lock.js';
export * from './purge.js';
export * from './store.js';
export * from './zkformat.js';
