/** A position in a feed ordered by (at, id): every row at or before it has been read. */
export interface FeedPosition {
  at: number;
  id: number;
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
 * A row both cursors read is returned once: what poll() answered is remembered until the settled cursor passes it.
 */
export class ChangeFeed<T> {
  private head: FeedPosition;
  private settled: FeedPosition;
  private readonly answered = new Map<string, number>();

  constructor(
    private readonly read: FeedReader<T>,
    private readonly positionOf: (row: T) => FeedPosition,
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
    const out: T[] = [];
    const take = (rows: T[]) => {
      for (const row of rows) {
        const p = this.positionOf(row);
        const key = `${p.id}:${p.at}`;
        if (this.answered.has(key)) continue;
        this.answered.set(key, p.at);
        out.push(row);
      }
    };
    this.settled = await this.drain(this.settled, now - this.options.settleMs, take);
    if (compare(this.head, this.settled) < 0) this.head = { ...this.settled };
    this.head = await this.drain(this.head, null, take);
    // Neither cursor reads at or before the settled one again.
    for (const [key, at] of this.answered) if (at < this.settled.at) this.answered.delete(key);
    return out;
  }

  private async drain(from: FeedPosition, upTo: number | null, take: (rows: T[]) => void): Promise<FeedPosition> {
    let at = from;
    for (let page = 0; page < this.options.maxPages; page++) {
      const rows = await this.read(at, upTo, this.options.pageSize);
      take(rows);
      if (rows.length > 0) at = this.positionOf(rows[rows.length - 1]);
      if (rows.length < this.options.pageSize) break;
    }
    return at;
  }
}
