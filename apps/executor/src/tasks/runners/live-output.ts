import { StringDecoder } from 'node:string_decoder';
import { maskPrepared, prepareSecrets } from '@app/common';

/** The most recent bytes of a run's output that followers can still read. */
export const LIVE_RING_BYTES = 256 * 1024;
/** Followers of one run at a time: each one is a stream the executor feeds for as long as the run lasts. */
export const MAX_FOLLOWERS = 8;

/** What `read` found from an offset on: `gap` bytes skipped (no longer held), then `data` from `offset`. */
export interface OutputSlice {
  offset: number;
  gap: number;
  data: string;
  /** The UTF-8 size of `data`: the next read starts at offset + bytes. */
  bytes: number;
}

/**
 * A running run's output as followers read it (FollowOutput), beside the head-and-tail capture that is recorded
 * (OutputBuffer). It keeps the most recent `ringBytes` of the output stream under absolute byte offsets, so that a
 * follower asking for an offset that fell out learns how much it missed (`gap`) and continues from the oldest byte
 * held; and it tells listeners when data arrives or the run ends.
 *
 * The stream is masked before it is held: offsets count bytes of the masked text (UTF-8), so that every follower,
 * whenever it joins, sees the same bytes at the same offsets. A secret that the task writes in two pieces is caught
 * because the last (longest secret - 1) characters are held back until more output arrives or the run ends, and a
 * cut never falls inside or right after a secret found: what is released can never end with the start of a secret
 * whose rest is still to come. With no secret, everything is released at once. For valid UTF-8 that is not cut by the
 * 64 KiB limit, the concatenated stream equals the output recorded for the run.
 */
export class LiveOutput {
  private readonly secrets: readonly string[];
  /** Characters (UTF-16 code units) kept back so that a secret split across writes is masked whole. */
  private readonly holdBack: number;
  private readonly decoder = new StringDecoder('utf8');
  /** Decoded, not yet masked and released. */
  private pending = '';
  // Grown as output arrives, up to ringBytes (most runs print little; a 256 KiB buffer a run at a thousand runs a
  // second would be the executor's largest allocation). Until it is full size nothing wraps: offset = index.
  private ring: Buffer = Buffer.alloc(0);
  /** Absolute offset just past the last byte released. */
  private written = 0;
  private finalStatus: string | null = null;
  private completed = false;
  private readonly listeners = new Set<() => void>();
  private followers = 0;

  constructor(
    secrets: Iterable<string> = [],
    private readonly ringBytes = LIVE_RING_BYTES,
    private readonly maxFollowers = MAX_FOLLOWERS,
  ) {
    if (!Number.isSafeInteger(ringBytes) || ringBytes < 16) throw new RangeError(`ring size too small: ${ringBytes}`);
    this.secrets = prepareSecrets(secrets);
    this.holdBack = Math.max(0, ...this.secrets.map((s) => s.length - 1));
  }

  /** The offset just past the last byte followers can read. */
  get length(): number {
    return this.written;
  }

  /** The oldest offset still held. */
  get start(): number {
    return Math.max(0, this.written - this.ringBytes);
  }

  /** The run's final status once it ended, else null. */
  get status(): string | null {
    return this.finalStatus;
  }

  get followerCount(): number {
    return this.followers;
  }

  append(chunk: Uint8Array | string): void {
    if (this.completed) return;
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(Buffer.from(chunk));
    this.release(false);
  }

  /**
   * The task ended and its output is complete: what was held back is released (followers get the last bytes while
   * the result is being recorded), and later appends are ignored.
   */
  complete(): void {
    if (this.completed) return;
    this.completed = true;
    this.pending += this.decoder.end();
    this.release(true);
  }

  /** The run's result is recorded: followers get `status` after the last byte. Once. */
  finish(status: string): void {
    if (this.finalStatus !== null) return;
    this.complete();
    this.finalStatus = status;
    this.notify();
  }

  /** Takes a follower's place; null when MAX_FOLLOWERS follow already. The returned function gives it back, once. */
  follow(): (() => void) | null {
    if (this.followers >= this.maxFollowers) return null;
    this.followers++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.followers--;
    };
  }

  /** Calls `listener` whenever data is released or the run ends, until the returned function is called. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * At most `maxBytes` (at least 4, so that any character fits) from `offset` on, in whole characters: a slice never
   * starts or ends inside one. An offset before the oldest byte held reads from that byte with the difference as
   * `gap`; an offset at or past the end reads nothing (yet).
   */
  read(offset: number, maxBytes: number): OutputSlice {
    let from = Math.max(offset, this.start);
    if (from >= this.written) return { offset: Math.max(offset, from), gap: from - offset, data: '', bytes: 0 };
    while (from < this.written && isContinuation(this.byteAt(from))) from++;
    let to = Math.min(this.written, from + Math.max(4, maxBytes));
    while (to < this.written && to > from && isContinuation(this.byteAt(to))) to--;
    const bytes = this.copy(from, to);
    return { offset: from, gap: from - offset, data: bytes.toString('utf8'), bytes: bytes.length };
  }

  /** Masks and releases the pending text, all of it or all but what must wait for more output. */
  private release(all: boolean): void {
    if (this.pending === '') return;
    let cut = all || this.secrets.length === 0 ? this.pending.length : this.pending.length - this.holdBack;
    if (!all) cut = this.safeCut(cut);
    if (cut <= 0) return;
    const text = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    this.push(Buffer.from(maskPrepared(text, this.secrets), 'utf8'));
    this.notify();
  }

  /**
   * Moves `cut` back until no secret found in the pending text contains it or ends at it (a secret ending right at
   * the cut would be masked apart from one that touches it, where the recorded output masks both as one). Secrets
   * still incomplete start at or after the first cut (it holds back longest - 1 characters), so only complete ones
   * can be in the way; and the cut never splits a surrogate pair.
   */
  private safeCut(initial: number): number {
    let cut = initial;
    for (let moved = true; moved && cut > 0;) {
      moved = false;
      for (const secret of this.secrets) {
        const from = Math.max(0, cut - secret.length);
        for (let i = this.pending.indexOf(secret, from); i !== -1 && i < cut; i = this.pending.indexOf(secret, i + 1)) {
          if (i + secret.length >= cut) {
            cut = i;
            moved = true;
            break;
          }
        }
      }
    }
    if (cut > 0 && isHighSurrogate(this.pending.charCodeAt(cut - 1))) cut--;
    return cut;
  }

  private push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const cap = this.ringBytes;
    this.grow(this.written + bytes.length);
    const kept = bytes.length > cap ? bytes.subarray(bytes.length - cap) : bytes;
    let at = this.written + (bytes.length - kept.length);
    let rest = kept;
    while (rest.length > 0) {
      const index = at % cap;
      const n = Math.min(cap - index, rest.length);
      this.ring.set(rest.subarray(0, n), index);
      rest = rest.subarray(n);
      at += n;
    }
    this.written += bytes.length;
  }

  /** Makes room for `end` bytes while the ring is smaller than ringBytes (written bytes stay at their offsets). */
  private grow(end: number): void {
    const size = this.ring.length;
    if (size >= this.ringBytes || end <= size) return;
    const grown = Buffer.allocUnsafe(Math.min(this.ringBytes, Math.max(4096, 2 * size, end)));
    this.ring.copy(grown, 0, 0, this.written);
    this.ring = grown;
  }

  private byteAt(offset: number): number {
    return this.ring[this.index(offset)];
  }

  /** Where an offset is in the ring: the offset itself until the ring is full size, then modulo. */
  private index(offset: number): number {
    return offset % this.ring.length;
  }

  /** Bytes [from, to) of the stream, both held by the ring. */
  private copy(from: number, to: number): Buffer {
    const cap = this.ring.length;
    const a = this.index(from);
    const n = to - from;
    if (a + n <= cap) return Buffer.from(this.ring.subarray(a, a + n));
    return Buffer.concat([this.ring.subarray(a), this.ring.subarray(0, n - (cap - a))]);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
