/**
 * Splits a byte stream into length-prefixed frames. Frames are yielded as views into the
 * received chunk where possible; only a frame split across chunks is copied.
 */
export class FrameTooLargeError extends RangeError {
  override name = 'FrameTooLargeError';
  constructor(readonly length: number, readonly limit: number) {
    super(`frame length ${length} is out of range (limit ${limit})`);
  }
}

export class FrameDecoder {
  /** Chunks of an incomplete frame, joined once the whole frame is here (not once per chunk). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes the incomplete frame needs in all (length prefix included); 0 until its prefix is here. */
  private needed = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Appends a chunk and returns every complete frame payload. Throws FrameTooLargeError. */
  push(chunk: Buffer): Buffer[] {
    let buf = chunk;
    if (this.heldBytes > 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.needed === 0 && this.heldBytes >= 4) this.needed = this.frameBytes(Buffer.concat(this.held, 4), 0);
      if (this.needed === 0 || this.heldBytes < this.needed) return [];
      buf = Buffer.concat(this.held, this.heldBytes);
      this.held = [];
      this.heldBytes = 0;
      this.needed = 0;
    }
    const frames: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const total = this.frameBytes(buf, at);
      if (buf.length - at < total) break;
      frames.push(buf.subarray(at + 4, at + total));
      at += total;
    }
    if (at < buf.length) this.hold(buf.subarray(at));
    return frames;
  }

  /** Length prefix plus payload of the frame at `at`. */
  private frameBytes(buf: Buffer, at: number): number {
    const len = buf.readInt32BE(at);
    if (len < 0 || len > this.maxFrameBytes) throw new FrameTooLargeError(len, this.maxFrameBytes);
    return 4 + len;
  }

  /** Keeps the start of an incomplete frame (a copy: the chunk it is in may be reused). */
  private hold(rest: Buffer): void {
    this.held = [Buffer.from(rest)];
    this.heldBytes = rest.length;
    this.needed = rest.length >= 4 ? this.frameBytes(rest, 0) : 0;
  }

  /** Bytes held for an incomplete frame. */
  bufferedBytes(): number {
    return this.heldBytes;
  }

  /** The first bytes received so far, without consuming them (four-letter-word detection). */
  peek(): Buffer | null {
    return this.heldBytes === 0 ? null : Buffer.concat(this.held, this.heldBytes);
  }
}
