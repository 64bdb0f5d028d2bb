// Folded forbid skips against a second dispatcher that decides a tick late (a retry after `held`), on real SQLite and
// MariaDB: whatever the order of the fold and the late decision, no tick is both a run and inside a recorded range.
import { DataSource } from 'typeorm';
import type { JobEntity } from '@app/persistence';
import { dataSourceOptions, migrate, RunBatchRepository } from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { decideTick, rowsOf, skipReason, tickKeyOf } from './tick-policy';

const T = 1_700_000_000_000;
const job = { id: 7, concurrency: 'forbid', routing: 'round_robin', misfire: 'once', timeoutMs: 60_000 } as JobEntity;
const RUN = { kind: 'run', executorKeys: [''], replaceEarlier: false } as const;

describe.each([
  ['SQLite', sqliteDialect],
  ['MariaDB', mysqlDialect],
])('folded skips and a late decision (%s)', (_name, makeDialect) => {
  const dialect = makeDialect();
  let ds: DataSource;
  let ledger: RunBatchRepository;

  beforeAll(async () => {
    ds = new DataSource(dataSourceOptions(await dialect.fresh()));
    await ds.initialize();
    await migrate(ds);
    ledger = new RunBatchRepository(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
    await dialect.cleanup();
  });

  beforeEach(() => ds.query('DELETE FROM runs'));

  /** What a dispatcher deciding tick `at` of the job now comes to, from the same reads TickClaimer makes. */
  async function decideNow(at: number) {
    const [active, ranges] = await Promise.all([
      ledger.findActiveOf([job.id]),
      ledger.skipRangesReaching([job.id], at),
    ]);
    return decideTick(job, tickKeyOf(at), {
      active: active.get(job.id) ?? [],
      recorded: false,
      executors: [],
      covered: (ranges.get(job.id) ?? []).some(([a, b]) => a <= at && at <= b),
    });
  }

  /** Every first-attempt record as [status, first tick, last tick]. */
  async function records(): Promise<[string, number, number][]> {
    const rows = await ds.query<
      { status: string; scheduled_at: string | number; skipped_from: string | number | null }[]
    >('SELECT status, scheduled_at, skipped_from FROM runs ORDER BY id');
    return rows.map((r) => [r.status, Number(r.skipped_from ?? r.scheduled_at) - T, Number(r.scheduled_at) - T]);
  }

  it('a dispatcher that decides the first skipped tick after the run ended finds it recorded, before or after the fold', async () => {
    for (const foldFirst of [false, true]) {
      await ds.query('DELETE FROM runs');
      const [p0, p1, p2] = [T, T + 5000, T + 10_000];
      const [r] = await ledger.claimMany(rowsOf(job, p0, 'schedule', RUN, 'd1', p0), p0);
      await ds.query(`UPDATE runs SET status = 'running', started_at = ? WHERE id = ?`, [p0, r]);
      // d1 skips p1 behind the run, and at p2 reads it still running.
      await ledger.claimMany(rowsOf(job, p1, 'schedule', { kind: 'skip', reason: skipReason(r!) }, 'd1', p1), p1);
      expect((await ledger.findActiveOf([job.id])).get(job.id)).toHaveLength(1);
      await ds.query(`UPDATE runs SET status = 'succeeded', finished_at = ? WHERE id = ?`, [p2, r]);
      const fold = () =>
        ledger.extendSkips([
          { jobId: job.id, prevKey: tickKeyOf(p1), tickKey: tickKeyOf(p2), scheduledAt: p2, reason: skipReason(r!) },
        ]);
      if (foldFirst) expect(await fold()).toEqual(['extended']);
      // d2 comes to p1 late (its first try found the lock held): the run has ended.
      const late = await decideNow(p1);
      expect(late).toEqual({ kind: 'recorded' });
      if (!foldFirst) expect(await fold()).toEqual(['extended']);
      expect(await records()).toEqual([
        ['succeeded', 0, 0],
        ['skipped', 5000, 10_000],
      ]);
    }
  });
});
