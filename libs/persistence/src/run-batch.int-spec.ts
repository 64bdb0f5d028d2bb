// The batch ledger (RunBatchRepository) on real SQLite and MariaDB: the same fences as the single-row path, many
// rows a statement, with two connections standing in for two dispatchers or two executors.
import { DataSource } from 'typeorm';
import { mysqlDialect, sqliteDialect } from '../../../test/support/ledger-dialects';
import { dataSourceOptions } from './data-source-options';
import { migrate } from './migrator';
import { RunBatchRepository } from './repositories/run-batch.repository';
import { LedgerKey, NewRun } from './repositories/runs.repository';

const T = 1_700_000_000_000;
const num = (v: string | number | null) => (v === null ? null : Number(v));

function tick(jobId: number, at: number, over: Partial<NewRun> = {}): NewRun {
  return {
    jobId,
    tickKey: String(at / 1000),
    attempt: 1,
    executorKey: '',
    scheduledAt: at,
    trigger: 'schedule',
    status: 'pending',
    notBefore: at,
    deadlineAt: at + 60_000,
    dispatcherId: 'd1',
    ...over,
  };
}

/** The ledger keys of claimed rows, as a dispatcher offers them to an executor. */
const offered = (rows: NewRun[], ids: number[]): LedgerKey[] =>
  rows.map((r, i) => ({
    id: ids[i],
    jobId: r.jobId,
    tickKey: r.tickKey,
    attempt: r.attempt,
    executorKey: r.executorKey ?? '',
    scheduledAt: r.scheduledAt,
  }));

/** MySQL proper has no INSERT … RETURNING: the same suite on MariaDB with the read-back path MySQL takes. */
class WithoutReturning extends RunBatchRepository {
  protected override insertReturns(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

describe.each([
  { dialect: sqliteDialect(), name: 'sqlite', Ledger: RunBatchRepository },
  { dialect: mysqlDialect(), name: 'mariadb', Ledger: RunBatchRepository },
  { dialect: mysqlDialect(), name: 'mariadb without RETURNING (as MySQL)', Ledger: WithoutReturning },
])('batch ledger on $name', ({ dialect, Ledger }) => {
  const sources: DataSource[] = [];
  let a: RunBatchRepository;
  let b: RunBatchRepository;
  let ds: DataSource;

  async function open(): Promise<DataSource> {
    const source = new DataSource(dataSourceOptions(config));
    sources.push(source);
    await source.initialize();
    return source;
  }
  let config: Awaited<ReturnType<typeof dialect.fresh>>;

  beforeAll(async () => {
    config = await dialect.fresh();
    ds = await open();
    await migrate(ds);
    a = new Ledger(ds);
    b = new Ledger(await open());
  });

  afterAll(async () => {
    for (const s of sources) if (s.isInitialized) await s.destroy();
    await dialect.cleanup();
  });

  const statusOf = async (id: number) =>
    (await ds.query<{ status: string }[]>(`SELECT status FROM runs WHERE id = ?`, [id]))[0]?.status;

  it('claims each free key once; a second writer of the same ticks gets none of them', async () => {
    const batch = [tick(1, T), tick(2, T), tick(3, T)];
    const first = await a.claimMany(batch, T + 5);
    expect(first.every((id) => typeof id === 'number')).toBe(true);
    expect(new Set(first).size).toBe(3);
    // Another dispatcher, the same ticks plus one new one: only the new one is its.
    const second = await b.claimMany(
      [...batch.map((r) => ({ ...r, dispatcherId: 'd2' })), tick(4, T, { dispatcherId: 'd2' })],
      T + 6,
    );
    expect(second.slice(0, 3)).toEqual([null, null, null]);
    expect(typeof second[3]).toBe('number');
    const rows = await ds.query<{ n: number | string }[]>(`SELECT COUNT(*) AS n FROM runs WHERE scheduled_at = ?`, [T]);
    expect(Number(rows[0].n)).toBe(4);
  });

  it('two concurrent claimers of overlapping batches make exactly one row per key', async () => {
    const at = T + 1000;
    const keys = Array.from({ length: 300 }, (_, i) => tick(100 + i, at));
    const [x, y] = await Promise.all([
      a.claimMany(keys, at + 1),
      b.claimMany(
        [...keys].reverse().map((r) => ({ ...r, dispatcherId: 'd2' })),
        at + 2,
      ),
    ]);
    const won = x.filter((id) => id !== null).length + y.filter((id) => id !== null).length;
    expect(won).toBe(300);
    const rows = await ds.query<{ n: number | string }[]>(`SELECT COUNT(*) AS n FROM runs WHERE scheduled_at = ?`, [
      at,
    ]);
    expect(Number(rows[0].n)).toBe(300);
  });

  it('answers a key asked twice in one batch once: the row the database kept gets the id, the other is taken', async () => {
    const at = T + 3500;
    // A missed-tick record and a late claim of the same tick, in one INSERT.
    const [missed, pending] = await a.claimMany(
      [tick(70, at, { status: 'missed', error: 'no dispatcher claimed it' }), tick(70, at)],
      at + 1,
    );
    expect(typeof missed).toBe('number');
    expect(pending).toBeNull();
    expect(await statusOf(missed!)).toBe('missed');
  });

  it('records skipped ticks with their reason and a finish time', async () => {
    const at = T + 2000;
    const [id] = await a.claimMany([tick(5, at, { status: 'skipped', error: 'run 1 was still running' })], at + 3);
    const rows = await ds.query<{ status: string; error: string; finished_at: string | number }[]>(
      `SELECT status, error, finished_at FROM runs WHERE id = ?`,
      [id],
    );
    expect(rows[0]).toMatchObject({ status: 'skipped', error: 'run 1 was still running' });
    expect(Number(rows[0].finished_at)).toBe(at + 3);
  });

  it('folds consecutive forbid skips into one record whose key moves with its newest tick', async () => {
    const job = 60;
    const at = T + 100_000;
    const reason = 'run 9 of this job had not finished (concurrency: forbid)';
    const [id] = await a.claimMany([tick(job, at, { status: 'skipped', error: reason })], at);
    const fold = (ledger: RunBatchRepository, k: number, why = reason) =>
      ledger.extendSkips([
        {
          jobId: job,
          prevKey: String((at + (k - 1) * 1000) / 1000),
          tickKey: String((at + k * 1000) / 1000),
          scheduledAt: at + k * 1000,
          reason: why,
        },
      ]);
    expect(await fold(a, 1)).toEqual(['extended']);
    // Two dispatchers folding the same tick: one moves the record, the other finds nothing under the old key.
    expect(await Promise.all([fold(a, 2), fold(b, 2)])).toEqual(expect.arrayContaining([['extended'], ['absent']]));
    // Behind another run (another reason): not this record's.
    expect(await fold(a, 3, 'run 10 of this job had not finished (concurrency: forbid)')).toEqual(['absent']);
    const rows = await ds.query<Record<string, string | number>[]>(
      `SELECT id, tick_key, scheduled_at, skipped_from, skipped_count FROM runs WHERE job_id = ?`,
      [job],
    );
    expect(
      rows.map((r) => [num(r.id), r.tick_key, num(r.scheduled_at), num(r.skipped_from), num(r.skipped_count)]),
    ).toEqual([[id, String((at + 2000) / 1000), at + 2000, at, 3]]);
    expect(await a.skipRangesReaching([job, 61], at + 1500)).toEqual(new Map([[job, [[at, at + 2000]]]]));
    expect(await a.skipRangesReaching([job], at + 2001)).toEqual(new Map());

    // A run already holds the next tick's key (claimed by a dispatcher that saw the run finish): the fold is refused
    // by the unique key, and the record stays where it was.
    const [run] = await b.claimMany([tick(job, at + 3000)], at + 3000);
    expect(run).not.toBeNull();
    expect(await fold(a, 3)).toEqual(['taken']);
    const [after] = await ds.query<Record<string, string | number>[]>(
      `SELECT tick_key, skipped_count FROM runs WHERE id = ?`,
      [id],
    );
    expect([after.tick_key, num(after.skipped_count)]).toEqual([String((at + 2000) / 1000), 3]);
  });

  it('writes a skip and a dropped range with their tick counts', async () => {
    const at = T + 200_000;
    const [one, range] = await a.claimMany(
      [
        tick(62, at, { status: 'skipped', error: 'x' }),
        tick(63, at, { status: 'skipped', trigger: 'misfire', skippedCount: 5, skippedFrom: at - 4000, error: 'y' }),
      ],
      at,
    );
    const rows = await ds.query<Record<string, string | number | null>[]>(
      `SELECT id, skipped_from, skipped_count FROM runs WHERE id IN (?, ?) ORDER BY id`,
      [one, range],
    );
    expect(rows.map((r) => [num(r.skipped_from), num(r.skipped_count)])).toEqual([
      [null, 1],
      [at - 4000, 5],
    ]);
  });

  it('finds the active runs of the jobs asked about, by job', async () => {
    const at = T + 3000;
    const [p, q] = await a.claimMany([tick(6, at), tick(7, at)], at);
    await a.claimMany([tick(8, at, { status: 'skipped' })], at);
    const active = await b.findActiveOf([6, 7, 8, 999]);
    expect(active.get(6)?.map((r) => r.id)).toEqual([p]);
    expect(active.get(7)?.[0]).toMatchObject({
      id: q,
      status: 'pending',
      tickKey: String(at / 1000),
      scheduledAt: at,
    });
    expect(active.has(8)).toBe(false);
    expect(active.has(999)).toBe(false);
  });

  it('moves a run to running for exactly one of two racing executors', async () => {
    const at = T + 4000;
    const rows = Array.from({ length: 50 }, (_, i) => tick(200 + i, at));
    const keys = offered(rows, (await a.claimMany(rows, at)) as number[]);
    const ids = keys.map((k) => k.id);
    const [x, y] = await Promise.all([
      a.markRunningMany(keys, 'e1', '127.0.0.1:1', at + 10),
      b.markRunningMany([...keys].reverse(), 'e2', '127.0.0.1:2', at + 11),
    ]);
    expect(x.started.size + y.started.size).toBe(50);
    for (const id of ids) expect(x.started.has(id) !== y.started.has(id)).toBe(true);
    expect(x.mismatched.size + y.mismatched.size).toBe(0);
    // Not pending any more: nobody gets them again.
    const again = await a.markRunningMany(keys, 'e3', '127.0.0.1:3', at + 12);
    expect([again.started.size, again.mismatched.size]).toEqual([0, 0]);
  });

  it('starts a run only under the key it has: another job, tick, attempt, executor key or instant leaves it pending', async () => {
    const at = T + 6000;
    const rows = [tick(300, at, { tickKey: 'k' }), tick(301, at, { tickKey: 'k' })];
    const [own, other] = offered(rows, (await a.claimMany(rows, at)) as number[]);
    const forged: LedgerKey[] = [
      { ...own, jobId: other.jobId }, // run X named as job Y's, when it is job Z's
      { ...own, tickKey: 'k ' }, // equal to 'k' under MariaDB's padding collation
      { ...own, tickKey: 'K' },
      { ...own, tickKey: 'k\u0000' },
      { ...own, attempt: 2 },
      { ...own, executorKey: '127.0.0.1:1' },
      { ...own, scheduledAt: at + 1 },
    ];
    for (const key of forged) {
      const starts = await b.markRunningMany([key], 'e1', '127.0.0.1:1', at + 10);
      expect([[...starts.started], [...starts.mismatched]]).toEqual([[], [own.id]]);
      expect(await statusOf(own.id)).toBe('pending');
    }
    // The run's own key starts it.
    expect((await b.markRunningMany([own], 'e1', '127.0.0.1:1', at + 20)).started).toEqual(new Set([own.id]));
    expect(await statusOf(own.id)).toBe('running');
    expect(await statusOf(other.id)).toBe('pending');
  });

  it('sorts a mixed batch: started, mismatched (still pending), and neither (running elsewhere, no such run)', async () => {
    const at = T + 7000;
    const rows = [tick(310, at), tick(311, at), tick(312, at)];
    const [right, wrongJob, taken] = offered(rows, (await a.claimMany(rows, at)) as number[]);
    await a.markRunningMany([taken], 'e2', '127.0.0.1:2', at + 5);
    const starts = await b.markRunningMany(
      [right, { ...wrongJob, jobId: right.jobId }, taken, { ...right, id: 987_654_321 }],
      'e1',
      '127.0.0.1:1',
      at + 10,
    );
    expect([...starts.started]).toEqual([right.id]);
    expect([...starts.mismatched]).toEqual([wrongJob.id]);
    expect(await statusOf(right.id)).toBe('running');
    expect(await statusOf(wrongJob.id)).toBe('pending');
    const [row] = await ds.query<{ executor_id: string }[]>(`SELECT executor_id FROM runs WHERE id = ?`, [taken.id]);
    expect(row.executor_id).toBe('e2');
  });

  it('writes results of running runs and ignores a late report for a final one', async () => {
    const at = T + 5000;
    const claims = [tick(9, at), tick(10, at), tick(11, at)];
    const [r1, r2, r3] = (await a.claimMany(claims, at)) as number[];
    await a.markRunningMany(offered(claims, [r1, r2, r3]), 'e1', '127.0.0.1:1', at + 100);
    // r3 was declared lost elsewhere meanwhile.
    await ds.query(`UPDATE runs SET status = 'lost' WHERE id = ?`, [r3]);
    const writtenFrom = Date.now();
    const moved = await b.finishMany([
      { id: r1, result: { status: 'succeeded', finishedAt: at + 350, httpStatus: 200, output: 'ok' } },
      {
        id: r2,
        result: { status: 'failed', finishedAt: at + 400, exitCode: 3, error: 'exit 3', outputTruncated: true },
      },
      { id: r3, result: { status: 'succeeded', finishedAt: at + 500 } },
    ]);
    expect([...moved].sort()).toEqual([r1, r2].sort());
    const rows = await ds.query<Record<string, string | number | null>[]>(
      `SELECT id, status, finished_at, updated_at, duration_ms, http_status, exit_code, output, output_truncated, ` +
        `error FROM runs WHERE id IN (?, ?, ?) ORDER BY id`,
      [r1, r2, r3],
    );
    expect(
      rows.map((r) => [
        r.status,
        num(r.finished_at),
        // A result written after its finish (here: finishes of long ago) is stamped with the write's instant, so the
        // ledger's change readers, already past its finish, still read it.
        r.status === 'lost' ? num(r.updated_at) : (num(r.updated_at) as number) >= writtenFrom && 'written now',
        num(r.duration_ms),
        num(r.exit_code),
        num(r.http_status),
        r.output,
        num(r.output_truncated),
        r.error,
      ]),
    ).toEqual([
      ['succeeded', at + 350, 'written now', 250, null, 200, 'ok', 0, null],
      ['failed', at + 400, 'written now', 300, 3, null, null, 1, 'exit 3'],
      ['lost', null, at + 100, null, null, null, null, 0, null],
    ]);
    expect(await statusOf(r3)).toBe('lost');
  });
});

describe('batch ledger on sqlite, rows the database drops silently', () => {
  const dialect = sqliteDialect();
  let ds: DataSource;

  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await dialect.cleanup();
  });

  it('fails loudly instead of passing a dropped row off as claimed elsewhere', async () => {
    ds = new DataSource(dataSourceOptions(await dialect.fresh()));
    await ds.initialize();
    await migrate(ds);
    const ledger = new RunBatchRepository(ds);
    // OR IGNORE drops a NOT NULL violation without an error; a tick must not vanish that way.
    const broken = { ...tick(1, T), tickKey: null as unknown as string };
    await expect(ledger.claimMany([tick(2, T), broken], T)).rejects.toThrow(/dropped 1 run row/);
  });
});
