export { WatchRegistry, type WatchSummary } from './registry.js';
