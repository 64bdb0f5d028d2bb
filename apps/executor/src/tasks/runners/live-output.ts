import { StringDecoder } from 'node:string_decoder';
import { prepareSecrets, SECRET_MASK } from '@app/common';

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
 * The ring's first size. Most runs print a line or two: under 4 KiB Node hands out slices of its shared buffer pool,
 * where a buffer of 4 KiB or more is an allocation of its own outside V8's heap (4 MB a second at a thousand runs a
 * second, which V8 counts as external memory and answers with full collections).
 */
const FIRST_RING_BYTES = 256;

/**
 * A running run's output as followers read it (FollowOutput), beside the head-and-tail capture that is recorded
 * (OutputBuffer). It keeps the most recent `ringBytes` of the output stream under absolute byte offsets, so that a
 * follower asking for an offset that fell out learns how much it missed (`gap`) and continues from the oldest byte
 * held; and it tells listeners when data arrives or the run ends.
 *
 * With no secret, the bytes the task writes go into the ring as they are (no decoding): offsets are the task's own
 * bytes, and `read` cuts on character boundaries. With secrets, the stream is masked before it is held, so offsets
 * count bytes of the masked text (UTF-8) and every follower, whenever it joins, sees the same bytes at the same
 * offsets. The masking is incremental and gives exactly what masking the whole text at once gives (overlapping or
 * touching occurrences are one `***`): text is released once no occurrence still to come can cover it (it is more
 * than longest secret - 1 characters before the end), and a stretch of occurrences is released as `***` as soon as
 * it starts, the rest of it being swallowed as it arrives. So what is held is bounded (about twice the longest
 * secret), whatever the output, and each write costs its own length plus that bound. For valid UTF-8 that is not cut
 * by the 64 KiB limit, the concatenated stream equals the output recorded for the run.
 */
export class LiveOutput {
  private readonly secrets: readonly string[];
  /** Characters (UTF-16 code units) an occurrence still to come can reach back: longest secret - 1. */
  private readonly holdBack: number;
  private readonly decoder: StringDecoder | null;
  /**
   * Decoded text from character `heldBase` on: up to holdBack characters already decided (so that an occurrence
   * starting in them is found once its end arrives), then what is not decided yet.
   */
  private held = '';
  private heldBase = 0;
  /** Characters before this are released (as themselves or inside a `***`). */
  private decided = 0;
  /** `decided` is the end of a masked stretch that an occurrence still to come may extend (touching merges). */
  private stretchOpen = false;
  // Grown as output arrives, up to ringBytes (most runs print little; a 256 KiB buffer a run at a thousand runs a
  // second would be the executor's largest allocation). Until it is full size nothing wraps: offset = index.
  private ring: Buffer = Buffer.alloc(0);
  /** Absolute offset just past the last byte released. */
  private written = 0;
  private finalStatus: string | null = null;
  private completed = false;
  private readonly listeners = new Set<() => void>();
  private followers = 0;
  /** Places kept for followers coming back at an offset (counted in `followers` until taken or expired). */
  private readonly kept = new Map<number, { count: number; timer: NodeJS.Timeout }>();

  constructor(
    secrets: Iterable<string> = [],
    private readonly ringBytes = LIVE_RING_BYTES,
    private readonly maxFollowers = MAX_FOLLOWERS,
  ) {
    if (!Number.isSafeInteger(ringBytes) || ringBytes < 16) throw new RangeError(`ring size too small: ${ringBytes}`);
    this.secrets = prepareSecrets(secrets);
    this.holdBack = Math.max(0, ...this.secrets.map((s) => s.length - 1));
    this.decoder = this.secrets.length > 0 ? new StringDecoder('utf8') : null;
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

  /** Characters held for masking (context and not yet released): bounded by about twice the longest secret. */
  get heldChars(): number {
    return this.held.length;
  }

  /** The bytes the ring takes in memory now. */
  get memoryBytes(): number {
    return this.ring.length;
  }

  /** With no secret, `chunk` is copied into the ring as it is (one copy, nothing else); else decoded and masked. */
  append(chunk: Uint8Array | string): void {
    if (this.completed) return;
    if (!this.decoder) {
      this.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      return;
    }
    this.held += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    this.release(false);
  }

  /**
   * The task ended and its output is complete: what was held back is released (followers get the last bytes while
   * the result is being recorded), and later appends are ignored.
   */
  complete(): void {
    if (this.completed) return;
    this.completed = true;
    if (!this.decoder) {
      // An incomplete character at the end is readable now.
      if (this.written > 0 && this.byteAt(this.written - 1) >= 0x80) this.notify();
      return;
    }
    this.held += this.decoder.end();
    this.release(true);
  }

  /** The run's result is recorded: followers get `status` after the last byte. Once. */
  finish(status: string): void {
    if (this.finalStatus !== null) return;
    this.complete();
    this.finalStatus = status;
    // The run is over: places kept for followers coming back are not needed to hold anyone off any more.
    for (const { count, timer } of this.kept.values()) {
      clearTimeout(timer);
      this.followers -= count;
    }
    this.kept.clear();
    this.notify();
  }

  /**
   * Takes a follower's place; null when MAX_FOLLOWERS follow already. A place kept for a follower coming back at
   * `offset` (see the returned function) is taken first. The returned function gives the place back, once; with
   * `keepFor`, it keeps it for a follower that calls again from `keepFor.offset` within `keepFor.ms` (the 1 MiB
   * per-call cap: the same follower calls again at once), so that no one waiting takes it in between.
   */
  follow(offset?: number): ((keepFor?: { offset: number; ms: number }) => void) | null {
    const kept = offset === undefined ? undefined : this.kept.get(offset);
    if (kept) {
      kept.count--;
      if (kept.count === 0) {
        clearTimeout(kept.timer);
        this.kept.delete(offset!);
      }
    } else {
      if (this.followers >= this.maxFollowers) return null;
      this.followers++;
    }
    let given = false;
    return (keepFor) => {
      if (given) return;
      given = true;
      if (!keepFor || this.finalStatus !== null) {
        this.followers--;
        return;
      }
      const entry = this.kept.get(keepFor.offset);
      if (entry) {
        entry.count++;
        return;
      }
      const timer = setTimeout(() => {
        const e = this.kept.get(keepFor.offset);
        if (!e) return;
        this.kept.delete(keepFor.offset);
        this.followers -= e.count;
      }, keepFor.ms);
      timer.unref();
      this.kept.set(keepFor.offset, { count: 1, timer });
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
    from = this.nextCharStart(from);
    if (from >= this.written) return { offset, gap: 0, data: '', bytes: 0 };
    let to = Math.min(this.written, from + Math.max(4, maxBytes));
    let back = to;
    for (let k = 0; k < 3 && back < this.written && back > from && isContinuation(this.byteAt(back)); k++) back--;
    if (back > from && (back === this.written || !isContinuation(this.byteAt(back)))) to = back;
    if (to === this.written && !this.completed) to = this.beforeIncomplete(from, to);
    return { offset: from, gap: from - offset, data: this.text(from, to), bytes: to - from };
  }

  /**
   * Releases what is decided: with `all`, everything; else the text no occurrence still to come can cover (before
   * end - holdBack), and the `***` of a stretch of occurrences as soon as it starts there (its start can not move:
   * an occurrence still to come starts at or after end - holdBack). The occurrences found are exactly those of the
   * whole text that end by now, merged as maskPrepared merges them, so the released text equals it.
   */
  private release(all: boolean): void {
    const base = this.heldBase;
    const end = base + this.held.length;
    const safe = all ? end : end - this.holdBack;
    const spans: number[][] = [];
    for (const secret of this.secrets) {
      // Occurrences of one secret that overlap or touch are merged here already (`aaaa` over a run of `a`).
      let last: number[] | null = null;
      for (let i = this.held.indexOf(secret); i !== -1; i = this.held.indexOf(secret, i + 1)) {
        const s = base + i;
        const e = s + secret.length;
        if (e <= this.decided) continue;
        if (last && s <= last[1]) last[1] = e;
        else spans.push((last = [s, e]));
      }
    }
    spans.sort((a, b) => a[0] - b[0]);
    let out = '';
    let pos = this.decided;
    let open = this.stretchOpen;
    let waiting = false;
    for (const [s, e] of spans) {
      if (s < pos || (s === pos && open)) {
        // Part of the stretch being masked (touching merges, as in maskPrepared): swallowed.
        if (e > pos) pos = e;
        continue;
      }
      if (open) {
        // An occurrence still to come could start before this one and join it to the stretch.
        if (pos >= safe) {
          waiting = true;
          break;
        }
        open = false;
      }
      if (s > safe) break;
      out += this.held.slice(pos - base, s - base) + SECRET_MASK;
      pos = e;
      open = true;
    }
    if (!waiting) {
      if (open && pos < safe) open = false;
      if (!open && pos < safe) {
        let cut = safe;
        if (!all && isHighSurrogate(this.held.charCodeAt(cut - 1 - base))) cut--;
        out += this.held.slice(pos - base, cut - base);
        pos = Math.max(pos, cut);
      }
    }
    this.decided = pos;
    this.stretchOpen = open;
    const keep = Math.max(base, pos - this.holdBack);
    if (keep > base) {
      this.held = this.held.slice(keep - base);
      this.heldBase = keep;
    }
    if (out !== '') this.push(Buffer.from(out, 'utf8'));
  }

  private push(bytes: Uint8Array): void {
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
    this.notify();
  }

  /** Makes room for `end` bytes while the ring is smaller than ringBytes (written bytes stay at their offsets). */
  private grow(end: number): void {
    const size = this.ring.length;
    if (size >= this.ringBytes || end <= size) return;
    const grown = Buffer.allocUnsafe(Math.min(this.ringBytes, Math.max(FIRST_RING_BYTES, 2 * size, end)));
    this.ring.copy(grown, 0, 0, this.written);
    this.ring = grown;
  }

  /**
   * `at`, or past the character it is inside of. A character is at most 4 bytes: continuation bytes that no lead
   * byte before them covers are invalid UTF-8, sent as they are (each reads as U+FFFD).
   */
  private nextCharStart(at: number): number {
    if (at >= this.written || !isContinuation(this.byteAt(at))) return at;
    for (let lead = at - 1; lead >= at - 3 && lead >= 0; lead--) {
      if (lead < this.start) {
        // The lead byte fell out of the ring: skip what can only be the rest of its character.
        let next = at;
        while (next < this.written && next < lead + 4 && isContinuation(this.byteAt(next))) next++;
        return next;
      }
      if (!isContinuation(this.byteAt(lead))) return lead + charSize(this.byteAt(lead)) > at ? this.skipRest(at) : at;
    }
    return at;
  }

  private skipRest(at: number): number {
    let next = at;
    for (let k = 0; k < 3 && next < this.written && isContinuation(this.byteAt(next)); k++) next++;
    return next;
  }

  /** `to`, or the start of a character still incomplete at `to` (the end): its other bytes are yet to come. */
  private beforeIncomplete(from: number, to: number): number {
    let lead = to - 1;
    for (let k = 0; k < 3 && lead > from && isContinuation(this.byteAt(lead)); k++) lead--;
    return lead + charSize(this.byteAt(lead)) > to ? lead : to;
  }

  private byteAt(offset: number): number {
    return this.ring[this.index(offset)];
  }

  /** Where an offset is in the ring: the offset itself until the ring is full size, then modulo. */
  private index(offset: number): number {
    return offset % this.ring.length;
  }

  /** Bytes [from, to) of the stream, both held by the ring, decoded. */
  private text(from: number, to: number): string {
    const cap = this.ring.length;
    const a = this.index(from);
    const n = to - from;
    if (a + n <= cap) return this.ring.toString('utf8', a, a + n);
    return Buffer.concat([this.ring.subarray(a), this.ring.subarray(0, n - (cap - a))]).toString('utf8');
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/** The bytes of the character a lead byte starts (1 for anything else). */
function charSize(lead: number): number {
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
