/**
 * Runs every checker over a recorded run: the one verdict a fault run ends with. Pure.
 */
import { checkCounters, checkEphemerals, checkLostWrites, checkMutex, checkSequential, checkSessions, checkTrees, type FinalRegister, type Violation } from './checkers.js';
import type { History } from './history.js';
import { checkRegisters, type LinearizabilityLimits, type LinearizabilityResult, type RegisterState } from './linearizability.js';

/** What was read after healing, for the checkers of final state. */
export interface FinalState {
  registers: Record<string, FinalRegister>;
  counters: Record<string, number>;
  /** Sessions (hex) still open when the ephemerals were listed. */
  liveSessions: string[];
  /** Server id -> path -> digest, for the servers that could be read. */
  trees: Record<string, Record<string, string>>;
}

export interface Verdict {
  /** 'violation' if any checker found one; 'unknown' if linearizability could not be decided; else 'ok'. */
  result: 'ok' | 'violation' | 'unknown';
  linearizability: LinearizabilityResult;
  violations: Violation[];
}

export const INITIAL_REGISTER: RegisterState = { value: '0', version: 0 };

export function checkRun(history: History, final: FinalState, limits: LinearizabilityLimits = {}): Verdict {
  const linearizability = checkRegisters(history.ops, INITIAL_REGISTER, limits);
  const violations: Violation[] = [
    ...linearizability.keys.flatMap((k) => (k.result === 'violation' ? [{ checker: 'linearizability', message: k.message, ops: [k.stuckAt.index] }] : [])),
    ...checkSessions(history.ops),
    ...checkLostWrites(history.ops, new Map(Object.entries(final.registers))),
    ...checkSequential(history.ops),
    ...checkCounters(history.ops, new Map(Object.entries(final.counters))),
    ...checkEphemerals(history.ops, new Set(final.liveSessions)),
    ...checkMutex(history.ops),
    ...checkTrees(new Map(Object.entries(final.trees).map(([id, tree]) => [Number(id), new Map(Object.entries(tree))]))),
  ];
  const result = violations.length > 0 ? 'violation' : linearizability.result === 'unknown' ? 'unknown' : 'ok';
  return { result, linearizability, violations };
}
