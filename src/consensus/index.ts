export * from './zxid.js';
export * from './wire.js';
export * from './members.js';
export * from './election.js';
export * from './learner.js';
export * from './leader.js';
