/**
 * Captures a task's output within a fixed byte budget, keeping the beginning (what the task set out to do) and the
 * end (how it finished), which are the parts an operator reads.
 *
 * The limit is a hard bound on the UTF-8 size of `toString()`, marker included. Bytes that are not valid UTF-8 are
 * decoded as U+FFFD, which can be larger than the byte it replaces; when that pushes the text past the limit it is
 * cut like any other overflow, so the marker's count is exact for valid UTF-8 and close otherwise.
 */
export class OutputBuffer {
  /** Below this there is no room left for output once the marker is in. */
  static readonly MIN_LIMIT_BYTES = 128;

  private readonly headCap: number;
  // Allocated as output arrives: most runs print little or nothing, and two zero-filled 32 KiB buffers a run were
  // the executor's largest allocation at a thousand runs a second.
  private head: Buffer = Buffer.alloc(0);
  private headLen = 0;
  // A ring holding the most recent bytes; together with the head it holds everything until the limit is exceeded.
  private ring: Buffer | null = null;
  private readonly ringCap: number;
  private ringPos = 0;
  private ringLen = 0;
  private total = 0;
  private rendered: { text: string; truncated: boolean } | null = null;

  constructor(private readonly limitBytes = 64 * 1024) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes < OutputBuffer.MIN_LIMIT_BYTES) {
      throw new RangeError(`output limit must be an integer >= ${OutputBuffer.MIN_LIMIT_BYTES}, got ${limitBytes}`);
    }
    this.headCap = Math.floor(limitBytes / 2);
    this.ringCap = limitBytes - this.headCap;
  }

  append(chunk: Uint8Array | string): void {
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (bytes.length === 0) return;
    this.rendered = null;
    this.total += bytes.length;

    if (this.headLen < this.headCap) {
      const n = Math.min(this.headCap - this.headLen, bytes.length);
      if (this.head.length < this.headLen + n) {
        // Grow geometrically up to the cap; the bytes past headLen are never read.
        const grown = Buffer.allocUnsafe(Math.min(this.headCap, Math.max(256, 2 * (this.headLen + n))));
        this.head.copy(grown, 0, 0, this.headLen);
        this.head = grown;
      }
      this.head.set(bytes.subarray(0, n), this.headLen);
      this.headLen += n;
      bytes = bytes.subarray(n);
    }
    if (bytes.length > 0) this.pushRing(bytes);
  }

  get truncated(): boolean {
    return this.render().truncated;
  }

  toString(): string {
    return this.render().text;
  }

  private pushRing(bytes: Uint8Array): void {
    const cap = this.ringCap;
    // Unsafe is fine: tailBytes() reads only the ringLen bytes written so far.
    this.ring ??= Buffer.allocUnsafe(cap);
    if (bytes.length >= cap) {
      this.ring.set(bytes.subarray(bytes.length - cap));
      this.ringPos = 0;
      this.ringLen = cap;
      return;
    }
    const first = Math.min(cap - this.ringPos, bytes.length);
    this.ring.set(bytes.subarray(0, first), this.ringPos);
    this.ring.set(bytes.subarray(first), 0);
    this.ringPos = (this.ringPos + bytes.length) % cap;
    this.ringLen = Math.min(cap, this.ringLen + bytes.length);
  }

  /** The ring's content, oldest byte first. */
  private tailBytes(): Buffer {
    if (!this.ring) return Buffer.alloc(0);
    if (this.ringLen < this.ringCap) return this.ring.subarray(0, this.ringLen);
    return Buffer.concat([this.ring.subarray(this.ringPos), this.ring.subarray(0, this.ringPos)]);
  }

  private render(): { text: string; truncated: boolean } {
    if (this.rendered) return this.rendered;
    const head = this.head.subarray(0, this.headLen);
    const tail = this.tailBytes();
    const dropped = this.total - head.length - tail.length;

    let headText: Buffer;
    let tailText: Buffer;
    let omittedBefore = 0;
    if (dropped === 0) {
      // Head and ring are contiguous here, so they are decoded as one to keep characters that straddle them.
      const text = Buffer.concat([head, tail]).toString('utf8');
      const whole = Buffer.from(text, 'utf8');
      if (whole.length <= this.limitBytes) {
        this.rendered = { text, truncated: false };
        return this.rendered;
      }
      // U+FFFD replacements outgrew the limit: cut the decoded text around its middle instead.
      const middle = charBoundaryAtOrBefore(whole, Math.floor(whole.length / 2));
      headText = whole.subarray(0, middle);
      tailText = whole.subarray(middle);
    } else {
      // The cuts made while capturing can split a character; drop its pieces rather than show U+FFFD for them.
      const headCut = incompleteSuffixLength(head);
      const tailCut = continuationPrefixLength(tail);
      headText = Buffer.from(head.subarray(0, head.length - headCut).toString('utf8'), 'utf8');
      tailText = Buffer.from(tail.subarray(tailCut).toString('utf8'), 'utf8');
      omittedBefore = dropped + headCut + tailCut;
    }

    // Sized for the largest count the marker could show, so the real marker always fits.
    const budget = this.limitBytes - markerBytes(omittedBefore + headText.length + tailText.length);
    const headShown = headText.subarray(0, charBoundaryAtOrBefore(headText, Math.floor(budget / 2)));
    const tailStart = charBoundaryAtOrAfter(tailText, Math.max(0, tailText.length - (budget - headShown.length)));
    const tailShown = tailText.subarray(tailStart);
    const omitted = omittedBefore + (headText.length - headShown.length) + tailStart;

    this.rendered = {
      text: headShown.toString('utf8') + marker(omitted) + tailShown.toString('utf8'),
      truncated: true,
    };
    return this.rendered;
  }
}

/** The marker toString() puts where output was dropped (masking looks for secrets cut by it). */
export const OMITTED_MARKER = /\n… \[\d+ bytes omitted\] …\n/;

function marker(omitted: number): string {
  return `\n… [${omitted} bytes omitted] …\n`;
}

function markerBytes(omitted: number): number {
  return Buffer.byteLength(marker(omitted), 'utf8');
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/** Bytes at the end of `buf` that start a multi-byte character without finishing it. */
function incompleteSuffixLength(buf: Uint8Array): number {
  for (let back = 1; back <= Math.min(4, buf.length); back++) {
    const byte = buf[buf.length - back];
    if (isContinuation(byte)) continue;
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/** Continuation bytes at the start of `buf`, left over from a character whose start was dropped. */
function continuationPrefixLength(buf: Uint8Array): number {
  let n = 0;
  while (n < Math.min(3, buf.length) && isContinuation(buf[n])) n++;
  return n;
}

function charBoundaryAtOrBefore(buf: Uint8Array, index: number): number {
  let i = Math.max(0, Math.min(index, buf.length));
  while (i > 0 && i < buf.length && isContinuation(buf[i])) i--;
  return i;
}

function charBoundaryAtOrAfter(buf: Uint8Array, index: number): number {
  let i = Math.max(0, Math.min(index, buf.length));
  while (i < buf.length && isContinuation(buf[i])) i++;
  return i;
}
