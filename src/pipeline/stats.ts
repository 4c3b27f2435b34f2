/** Counters behind srvr, stat, mntr and cons. */
export class ServerStats {
  packetsReceived = 0;
  packetsSent = 0;
  minLatencyMs = Number.MAX_SAFE_INTEGER;
  maxLatencyMs = 0;
  private totalLatencyMs = 0;
  private latencyCount = 0;

  recordLatency(ms: number): void {
    this.latencyCount++;
    this.totalLatencyMs += ms;
    if (ms < this.minLatencyMs) this.minLatencyMs = ms;
    if (ms > this.maxLatencyMs) this.maxLatencyMs = ms;
  }

  avgLatencyMs(): number {
    return this.latencyCount === 0 ? 0 : this.totalLatencyMs / this.latencyCount;
  }

  minLatency(): number {
    return this.latencyCount === 0 ? 0 : this.minLatencyMs;
  }

  reset(): void {
    this.packetsReceived = 0;
    this.packetsSent = 0;
    this.minLatencyMs = Number.MAX_SAFE_INTEGER;
    this.maxLatencyMs = 0;
    this.totalLatencyMs = 0;
    this.latencyCount = 0;
  }
}
