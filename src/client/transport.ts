/**
 * The I/O half of the client: owns the TCP sockets and the timers, feeds what they report into
 * the connection state machine (src/client/connection-state.ts) and carries out what it asks
 * for. Everything it does not handle itself (session events, replies, watch notifications,
 * auth results) goes to the API's `deliver` in the order the machine produced it.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { ApplicationOutput, ClientConnection, ConnectionOutput, OutboundRequest, TimerName } from './connection-state.js';

/**
 * Timers that must not keep the process alive: an idle open client may exit with the program
 * (its socket is what keeps it alive), as before the split.
 */
const UNREF_TIMERS: ReadonlySet<TimerName> = new Set(['heartbeat', 'expiry']);

export class Transport<R extends OutboundRequest> {
  private socket: { connection: number; socket: Socket } | null = null;
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();
  private draining = false;

  constructor(
    readonly machine: ClientConnection<R>,
    private readonly deliver: (output: ApplicationOutput<R>) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Runs one input against the machine, then carries out everything it asked for. Inputs fed
   * while outputs are being handled (a listener making a call) are carried out after them, so
   * frames leave in the order the machine numbered them.
   */
  feed(input: (machine: ClientConnection<R>, now: number) => void): void {
    input(this.machine, this.clock());
    this.drain();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let batch = this.machine.takeOutputs(); batch.length > 0; batch = this.machine.takeOutputs()) {
        for (const output of batch) this.perform(output);
      }
    } finally {
      this.draining = false;
    }
  }

  private perform(output: ConnectionOutput<R>): void {
    try {
      switch (output.type) {
        case 'open':
          return this.open(output.connection, output.host.host, output.host.port);
        case 'write':
          if (this.socket?.connection === output.connection) this.socket.socket.write(output.bytes);
          return;
        case 'destroy':
          if (this.socket?.connection === output.connection) {
            this.socket.socket.destroy();
            this.socket = null;
          }
          return;
        case 'setTimer':
          return this.setTimer(output.timer, output.delayMs);
        case 'clearTimer':
          clearTimeout(this.timers.get(output.timer));
          this.timers.delete(output.timer);
          return;
        default:
          return this.deliver(output);
      }
    } catch (err) {
      // A throwing listener must not stop the outputs after it: report it on its own.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  private open(connection: number, host: string, port: number): void {
    this.socket?.socket.destroy();
    const socket = netConnect({ host, port });
    socket.setNoDelay(true);
    this.socket = { connection, socket };
    socket.on('connect', () => this.feed((m, now) => m.socketConnected(connection, now)));
    socket.on('data', (chunk: Buffer) => this.feed((m, now) => m.bytesReceived(connection, chunk, now)));
    socket.on('error', (err: NodeJS.ErrnoException) => this.feed((m, now) => m.socketClosed(connection, err.message, err.code, now)));
    socket.on('close', () => this.feed((m, now) => m.socketClosed(connection, 'connection closed', 'ECONNRESET', now)));
  }

  private setTimer(timer: TimerName, delayMs: number): void {
    clearTimeout(this.timers.get(timer));
    const handle = setTimeout(() => {
      this.timers.delete(timer);
      this.feed((m, now) => m.timerFired(timer, now));
    }, delayMs);
    if (UNREF_TIMERS.has(timer)) handle.unref();
    this.timers.set(timer, handle);
  }
}
