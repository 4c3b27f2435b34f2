export * from './zxid.js';
export * from './wire.js';
export * from './members.js';
export * from './election.js';
