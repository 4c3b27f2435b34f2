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
  private pending: Buffer | null = null;

  constructor(private readonly maxFrameBytes: number) {}

  /** Appends a chunk and returns every complete frame payload. Throws FrameTooLargeError. */
  push(chunk: Buffer): Buffer[] {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    const frames: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readInt32BE(at);
      if (len < 0 || len > this.maxFrameBytes) throw new FrameTooLargeError(len, this.maxFrameBytes);
      if (buf.length - at - 4 < len) break;
      frames.push(buf.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    if (at < buf.length) this.pending = Buffer.from(buf.subarray(at));
    return frames;
  }

  /** Bytes held for an incomplete frame. */
  bufferedBytes(): number {
    return this.pending?.length ?? 0;
  }

  /** The first bytes received so far, without consuming them (four-letter-word detection). */
  peek(): Buffer | null {
    return this.pending;
  }
}
