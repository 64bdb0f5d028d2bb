import { ChangeFeed, FeedPosition } from './change-feed';

interface Row {
  id: number;
  at: number;
  version: number;
}

/** A table of changes in memory, read in (at, id) order; `failOn` makes a given read (1-based) throw. */
function table() {
  const rows: Row[] = [];
  let reads = 0;
  let failOn = -1;
  const read = (after: FeedPosition, upTo: number | null, limit: number) => {
    reads++;
    if (reads === failOn) return Promise.reject(new Error('connection lost'));
    return Promise.resolve(
      rows
        .filter((r) => (r.at > after.at || (r.at === after.at && r.id > after.id)) && (upTo === null || r.at <= upTo))
        .sort((a, b) => a.at - b.at || a.id - b.id)
        .slice(0, limit)
        .map((r) => ({ ...r })),
    );
  };
  return {
    rows,
    read,
    failRead: (n: number) => (failOn = reads + n),
  };
}

const options = { settleMs: 3000, pageSize: 2, maxPages: 10 };
const entry = (r: Row) => ({ at: r.at, id: r.id, revision: r.version });

describe('ChangeFeed', () => {
  it('loses nothing when a read fails halfway through a poll: the next poll answers it all', async () => {
    const t = table();
    const feed = new ChangeFeed(t.read, entry, options, 10_000);
    for (let id = 1; id <= 5; id++) t.rows.push({ id, at: 10_100, version: 1 });
    // The settled drain reads once (nothing settled yet), the head drain pages through 5 rows in pages of 2:
    // its second page fails.
    t.failRead(3);
    await expect(feed.poll(10_200)).rejects.toThrow('connection lost');
    expect((await feed.poll(10_300)).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    // And later, when those rows settle, they are not answered again.
    expect(await feed.poll(20_000)).toEqual([]);
  });

  it('answers two changes of one row at one instant (two versions in the same millisecond)', async () => {
    const t = table();
    const feed = new ChangeFeed(t.read, entry, options, 10_000);
    t.rows.push({ id: 7, at: 10_100, version: 2 });
    expect((await feed.poll(10_200)).map((r) => r.version)).toEqual([2]);
    // Version 3 is committed in the same millisecond, after the head had passed (10 100, 7).
    t.rows[0].version = 3;
    expect(await feed.poll(10_300)).toEqual([]); // the head does not see it again …
    expect((await feed.poll(13_200)).map((r) => r.version)).toEqual([3]); // … the settled cursor does
    expect(await feed.poll(20_000)).toEqual([]);
  });

  it('answers a row committed late (behind the head, within the settle time) once', async () => {
    const t = table();
    const feed = new ChangeFeed(t.read, entry, options, 10_000);
    t.rows.push({ id: 2, at: 10_500, version: 1 });
    expect((await feed.poll(10_600)).map((r) => r.id)).toEqual([2]);
    t.rows.push({ id: 1, at: 10_400, version: 1 }); // stamped before the head's position, committed now
    expect(await feed.poll(10_700)).toEqual([]);
    expect((await feed.poll(13_600)).map((r) => r.id)).toEqual([1]);
    expect(await feed.poll(30_000)).toEqual([]);
  });
});
