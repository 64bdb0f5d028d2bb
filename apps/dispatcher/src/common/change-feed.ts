/** A position in a feed ordered by (at, id): every row at or before it has been read. */
export interface FeedPosition {
  at: number;
  id: number;
}

/** A row's place in the feed, and what makes two changes of one row at one instant different (a version, a status). */
export interface FeedEntry extends FeedPosition {
  revision?: string | number;
}

/** Reads the rows after `after` in (at, id) order, at most `limit`; with `upTo`, only those with at ≤ upTo. */
export type FeedReader<T> = (after: FeedPosition, upTo: number | null, limit: number) => Promise<T[]>;

export interface ChangeFeedOptions {
  /** Writers' clocks and commit delays stay within this: a row committed later than this after its `at` is missed. */
  settleMs: number;
  pageSize: number;
  /** Pages read per cursor and poll: a larger backlog is worked through over the next polls. */
  maxPages: number;
}

/** Changes remembered as answered at most: past it the oldest are forgotten (one may then be answered twice). */
export const MAX_ANSWERED = 100_000;

const compare = (a: FeedPosition, b: FeedPosition) => a.at - b.at || a.id - b.id;

/**
 * Rows changed since the last poll, from a table with a changed-at column and an index on (changed_at, id).
 *
 * Two keyset cursors, each of which only moves forward, so the feed never stalls however many rows share an
 * instant (a window re-read from "last seen minus a margin" with a LIMIT stalls once the margin holds more rows
 * than the limit):
 * - the head reads everything after itself: new rows are seen at the next poll;
 * - the settled cursor trails `settleMs` behind the clock and reads everything up to there, so a row whose
 *   writer's clock is behind, or whose commit came late, is still seen once, if within `settleMs`.
 * A change both cursors read is returned once (a change: the row's id, instant and revision). A poll is all or
 * nothing: when a read fails, neither cursor moves and nothing read is taken as answered, so the next poll reads it
 * all again.
 */
export class ChangeFeed<T> {
  private head: FeedPosition;
  private settled: FeedPosition;
  /** Changes answered, by key, with their instant: kept until the settled cursor passes them. */
  private readonly answered = new Map<string, number>();

  constructor(
    private readonly read: FeedReader<T>,
    private readonly entryOf: (row: T) => FeedEntry,
    private readonly options: ChangeFeedOptions,
    start: number = Date.now(),
  ) {
    this.head = { at: start - options.settleMs, id: 0 };
    this.settled = { ...this.head };
  }

  /** Where the head stands (tests, diagnostics). */
  get position(): FeedPosition {
    return { ...this.head };
  }

  /** Rows not answered before, in the order read. */
  async poll(now: number = Date.now()): Promise<T[]> {
    const settledRows = await this.drain(this.settled, now - this.options.settleMs);
    let head = this.head;
    if (compare(head, settledRows.end) < 0) head = settledRows.end;
    const headRows = await this.drain(head, null);
    // Both reads succeeded: commit.
    const out: T[] = [];
    for (const row of [...settledRows.rows, ...headRows.rows]) {
      const e = this.entryOf(row);
      const key = `${e.id}:${e.at}:${e.revision ?? ''}`;
      if (this.answered.has(key)) continue;
      this.answered.set(key, e.at);
      out.push(row);
    }
    this.settled = settledRows.end;
    this.head = headRows.end;
    // Neither cursor reads at or before the settled one again.
    for (const [key, at] of this.answered) if (at < this.settled.at) this.answered.delete(key);
    // A writer far ahead of the clock keeps rows above the settled cursor for long: bounded all the same.
    for (const key of this.answered.keys()) {
      if (this.answered.size <= MAX_ANSWERED) break;
      this.answered.delete(key);
    }
    return out;
  }

  private async drain(from: FeedPosition, upTo: number | null): Promise<{ rows: T[]; end: FeedPosition }> {
    let end = from;
    const rows: T[] = [];
    for (let page = 0; page < this.options.maxPages; page++) {
      const got = await this.read(end, upTo, this.options.pageSize);
      rows.push(...got);
      if (got.length > 0) {
        const last = this.entryOf(got[got.length - 1]);
        end = { at: last.at, id: last.id };
      }
      if (got.length < this.options.pageSize) break;
    }
    return { rows, end };
  }
}
