/**
 * The simulated network. Servers are nodes 1..N; a cut is directed (from>to), so one set of cuts
 * expresses symmetric, one-way and bridge partitions. A Pipe is one TCP connection: FIFO in each
 * direction, each message delayed at random (so messages on different connections reorder). A
 * message that meets a cut is lost, and so is everything after it in that direction, as on a
 * connection whose retransmissions fail: the endpoints' own timeouts then close it. Clients sit
 * outside the partitions (node 0).
 */
import type { World } from './world.js';

/** More than any node id. */
const CUT_KEY = 1024;

export class Network {
  /** Cut directions as from * CUT_KEY + to (a number: this is asked for every message). */
  private cuts = new Set<number>();

  constructor(
    private readonly world: World,
    private readonly maxDelay: number,
  ) {}

  blocked(from: number, to: number): boolean {
    return from !== 0 && to !== 0 && this.cuts.size > 0 && this.cuts.has(from * CUT_KEY + to);
  }

  /** Either direction cut: a connection between them cannot work. */
  severed(a: number, b: number): boolean {
    return this.blocked(a, b) || this.blocked(b, a);
  }

  setCuts(cuts: Iterable<[number, number]>): void {
    this.cuts = new Set([...cuts].map(([a, b]) => a * CUT_KEY + b));
  }

  describeCuts(): string {
    return [...this.cuts].map((k) => `${Math.floor(k / CUT_KEY)}>${k % CUT_KEY}`).sort().join(' ') || 'none';
  }

  /** A message's time on the wire: mostly short, sometimes a spike. */
  delay(): number {
    const rng = this.world.rng;
    return 1 + (rng.bool(0.05) ? rng.int(this.maxDelay * 8) : rng.int(this.maxDelay));
  }
}

/** One connection between node `a` and node `b`; direction 0 is a->b, 1 is b->a. */
export class Pipe {
  private readonly lastAt: [number, number] = [0, 0];
  private readonly lost: [boolean, boolean] = [false, false];
  /** Set when either side tore the connection down: nothing more is delivered. */
  dead = false;

  constructor(
    private readonly world: World,
    private readonly net: Network,
    readonly a: number,
    readonly b: number,
  ) {}

  send(dir: 0 | 1, deliver: () => void): void {
    if (this.dead || this.lost[dir]) return;
    const from = dir === 0 ? this.a : this.b;
    const to = dir === 0 ? this.b : this.a;
    if (this.net.blocked(from, to)) {
      this.lost[dir] = true;
      return;
    }
    const at = Math.max(this.world.now + this.net.delay(), this.lastAt[dir]);
    this.lastAt[dir] = at;
    this.world.at(at, () => {
      if (this.dead || this.lost[dir]) return;
      if (this.net.blocked(from, to)) {
        this.lost[dir] = true;
        return;
      }
      deliver();
    });
  }

  /** Whether something sent in direction `dir` may still be on the wire. */
  inFlight(dir: 0 | 1): boolean {
    return !this.dead && !this.lost[dir] && this.lastAt[dir] >= this.world.now;
  }

  /** Delivers `closed` to the other side after what was sent before (a FIN), unless lost on the way. */
  close(dir: 0 | 1, closed: () => void): void {
    this.send(dir, () => {
      this.dead = true;
      closed();
    });
  }
}
