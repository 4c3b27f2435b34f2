/**
 * Write-path timeline (PADDOCK_TRACE=<dir>): the drivers stamp each step of a write (request in,
 * proposal, log, ACK, commit, reply) with the monotonic clock, which every process on the machine
 * shares, so bench/trace-write.ts can join the stamps of all members by zxid and (session, cxid)
 * and show where a lone write's time goes.
 *
 * Off by default. Callers test `TRACING` before calling `stamp`, so a server that is not traced
 * pays one well-predicted branch per step and builds no key. Stamps are kept in memory (at most
 * MAX_STAMPS) and written to <dir>/<pid>.trace as the process exits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = process.env.PADDOCK_TRACE ?? '';

/** Whether this process records stamps. */
export const TRACING = DIR !== '';

/** Bounds the memory a long traced run takes: later stamps are dropped. */
const MAX_STAMPS = 2_000_000;

const times: number[] = [];
const points: string[] = [];
const keys: (string | number)[] = [];

/**
 * Records that `point` happened now for `key`: a zxid (as a number) or `${sessionId}:${cxid}`.
 * Point names start with the role: `l.` leader driver, `f.` learner driver, `c.` client front.
 */
export function stamp(point: string, key: string | number): void {
  stampAt(Number(process.hrtime.bigint()), point, key);
}

/** A stamp taken elsewhere (the sync worker thread): `ns` on the same clock. */
export function stampAt(ns: number, point: string, key: string | number): void {
  if (times.length >= MAX_STAMPS) return;
  times.push(ns);
  points.push(point);
  keys.push(key);
}

/** The key the client front and the leader's link stamp share for a request. */
export function requestKey(sessionId: bigint, cxid: number): string {
  return `${sessionId.toString(16)}:${cxid}`;
}

function writeStamps(): void {
  if (times.length === 0) return;
  const lines: string[] = [];
  for (let i = 0; i < times.length; i++) lines.push(`${times[i]} ${points[i]} ${keys[i]}`);
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, `${process.pid}.trace`), lines.join('\n') + '\n');
}

if (TRACING) process.on('exit', writeStamps);
