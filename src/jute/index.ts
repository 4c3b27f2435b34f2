export * from './binary.js';
export * from './codec.js';
export * from './constants.js';
export * from './records.js';
export * from './requests.js';
export * from './framing.js';
export * from './txn.js';
