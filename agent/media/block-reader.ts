/**
 * Reads an object in large blocks and serves the media sender's 64 KiB
 * chunks from them, fetching the next block while the current one is being
 * sent. A clip read over the camera's control channel costs a round trip
 * per request, so fewer, larger reads overlapped with publishing are what
 * make a transfer fast. One read is outstanding at a time (the camera link
 * is sequential).
 */
export class BlockReader {
  private blocks = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly readRaw: (offset: number, length: number) => Promise<Buffer>,
    private readonly totalSize: number,
    private readonly blockBytes = 1024 * 1024,
  ) {}

  /** Exactly `length` bytes at `offset` (shorter only when the source is shorter). */
  async read(offset: number, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let at = offset;
    const end = Math.min(offset + length, this.totalSize);
    while (at < end) {
      const start = Math.floor(at / this.blockBytes) * this.blockBytes;
      const block = await this.block(start);
      // Blocks behind the reader are not needed again.
      for (const k of this.blocks.keys()) if (k < start) this.blocks.delete(k);
      const next = start + this.blockBytes;
      if (next < this.totalSize && !this.blocks.has(next)) {
        // Prefetch once this block is in (sequential on the link).
        this.block(next).catch(() => undefined);
      }
      const from = at - start;
      const to = Math.min(block.length, end - start);
      if (to <= from) break; // the source ended early
      parts.push(block.subarray(from, to));
      at = start + to;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private block(start: number): Promise<Buffer> {
    let p = this.blocks.get(start);
    if (!p) {
      p = this.readRaw(start, Math.min(this.blockBytes, this.totalSize - start));
      this.blocks.set(start, p);
      // A failed read is not cached: the next call tries again.
      p.catch(() => {
        if (this.blocks.get(start) === p) this.blocks.delete(start);
      });
    }
    return p;
  }
}
