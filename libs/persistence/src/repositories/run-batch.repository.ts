import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Database, Statement } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { isDuplicateKey, isDuplicateOn, LEDGER_KEY, retryBusy } from '../db-errors';
import type { RunStatus } from '../domain';
import type { RunEntity } from '../entities/run.entity';
import { columnWrites, placeholders } from '../sql/columns';
import { ledgerKeyOfRow, LedgerKeyRow, RUN_COLUMNS } from '../sql/runs.table';
import type { LedgerKey, NewRun, RunResult } from './runs.repository';

/** Rows per statement: below SQLite's 32,766 bound variables (CLAIM's 17 a row) and MySQL's packet limit. */
const CHUNK = 1800;

/** The part of an active run the concurrency policies look at. */
export interface ActiveRunRow {
  id: number;
  jobId: number;
  tickKey: string;
  status: RunStatus;
  scheduledAt: number;
}

/** A `forbid` skip of tick `tickKey` to fold into the skip record under `prevKey` (RunBatchRepository.extendSkips). */
export interface SkipExtension {
  jobId: number;
  /** The job's previous tick's key: where the record to extend is. */
  prevKey: string;
  tickKey: string;
  scheduledAt: number;
  /** The skip's reason (it names the active run): a record of another run's skips is not extended. */
  reason: string;
}

/** Either dialect: RunBatchRepository.extendSkips' one statement (SQLite reads every column's old value in SET, MySQL the ones assigned before: skipped_from is assigned before scheduled_at for both; records written before counting read 0). */
const EXTEND_SKIP_SQL =
  'UPDATE runs SET skipped_from = COALESCE(skipped_from, scheduled_at), tick_key = ?, scheduled_at = ?, ' +
  'skipped_count = CASE WHEN skipped_count < 1 THEN 2 ELSE skipped_count + 1 END, finished_at = ?, ' +
  'updated_at = ? ' +
  "WHERE job_id = ? AND tick_key = ? AND attempt = 1 AND executor_key = '' AND status = 'skipped' " +
  "AND `trigger` = 'schedule' AND error = ?";

/** What claimMany writes of a new run claimed at `now`. */
const CLAIM = columnWrites<RunEntity, NewRun, number>(RUN_COLUMNS, {
  jobId: (r) => r.jobId,
  tickKey: (r) => r.tickKey,
  attempt: (r) => r.attempt,
  executorKey: (r) => r.executorKey ?? '',
  scheduledAt: (r) => r.scheduledAt,
  trigger: (r) => r.trigger,
  status: (r) => r.status,
  notBefore: (r, now) => r.notBefore ?? now,
  deadlineAt: (r) => r.deadlineAt,
  dispatcherId: (r) => r.dispatcherId,
  error: (r) => r.error ?? null,
  skippedCount: (r) => r.skippedCount ?? (r.status === 'skipped' ? 1 : 0),
  skippedFrom: (r) => r.skippedFrom ?? null,
  outputTruncated: () => 0,
  finishedAt: (r, now) => (r.status === 'pending' ? null : now),
  createdAt: (_, now) => now,
  updatedAt: (_, now) => now,
});
const CLAIM_COLUMNS = CLAIM.columns.join(', ');
const CLAIM_ROW = `(${placeholders(CLAIM.columns.length)})`;

/**
 * The ledger key a run was offered to an executor under: markRunningMany moves a row only when every one of these
 * columns holds the offered value.
 */
const OFFERED = columnWrites<RunEntity, LedgerKey>(RUN_COLUMNS, {
  id: (r) => r.id,
  jobId: (r) => r.jobId,
  tickKey: (r) => r.tickKey,
  attempt: (r) => r.attempt,
  executorKey: (r) => r.executorKey,
  scheduledAt: (r) => r.scheduledAt,
});
const OFFERED_ROW = `(${placeholders(OFFERED.columns.length)})`;
/**
 * MySQL: a row's offered key as one binary string, its columns joined by NUL bytes: a binary separator makes the whole
 * value binary, so it compares byte for byte whatever the columns' collation (none folds case, and the padding of
 * PAD SPACE collations applies to a value's end only, a number here). Numbers are written as the server writes them;
 * a key whose text holds a NUL is never sent (markRunningMany), so the joining is one-to-one. A constant IN list is
 * sorted and binary-searched: on MariaDB 10.11, 1,000 keys cost about as much as the ids alone (≈ 15 ms a statement
 * either way), where a derived table joined on the id cost ≈ 8 ms more and a row-value IN list over a second (it
 * compares each row with every element).
 */
const OFFERED_BYTES = `CONCAT_WS(X'00', ${OFFERED.columns.join(', ')})`;
const NUL = '\u0000';

/** What a start's compare-and-set did: the runs this executor got, and those offered under a key not their own. */
export interface RunStarts {
  started: Set<number>;
  /** Runs whose row holds another job, tick key, attempt, executor key or instant than the one offered. */
  mismatched: Set<number>;
}

/**
 * What finishMany writes of a result as it is. (`duration_ms` follows from `finished_at`; `updated_at` is the later
 * of `finished_at` and the write: a result written late, after the writer's retries, must still come after what
 * the ledger's change readers (dependencies, notifications, retry repair) have read by then.)
 */
const RESULT = columnWrites<RunEntity, RunResult>(RUN_COLUMNS, {
  status: (r) => r.status,
  finishedAt: (r) => r.finishedAt,
  exitCode: (r) => r.exitCode ?? null,
  httpStatus: (r) => r.httpStatus ?? null,
  output: (r) => r.output ?? null,
  outputTruncated: (r) => (r.outputTruncated ? 1 : 0),
  error: (r) => r.error ?? null,
});

/** SQLite: one UPDATE a result; parameters: RESULT's values, the duration's finish instant, updated_at, id. */
const FINISH_ONE_SQL =
  `UPDATE runs SET ${RESULT.columns.map((c) => `${c} = ?`).join(', ')}, ` +
  `duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE ? - started_at END, updated_at = ? ` +
  `WHERE id = ? AND status = 'running'`;

/**
 * Either dialect: one UPDATE a result from one of `fromCount` statuses; parameters: resultParams(), then the statuses.
 */
const finishFromSql = (fromCount: number) =>
  `UPDATE runs SET ${RESULT.columns.map((c) => `${c} = ?`).join(', ')}, ` +
  `duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE ? - started_at END, updated_at = ? ` +
  `WHERE id = ? AND status IN (${placeholders(fromCount)})`;

/** Either dialect: one new run. */
const CLAIM_ONE_SQL = `INSERT INTO runs (${CLAIM_COLUMNS}) VALUES ${CLAIM_ROW}`;

/** MySQL: the rows of a derived table of results, each `id` then RESULT's values. */
const RESULT_FIRST_ROW = `SELECT ? AS id, ${RESULT.columns.map((c) => `? AS ${c}`).join(', ')}`;
const RESULT_ROW = `SELECT ${placeholders(1 + RESULT.columns.length)}`;
const FINISH_FROM_DERIVED_SET =
  `SET ${RESULT.columns.map((c) => `r.${c} = v.${c}`).join(', ')}, ` +
  `r.duration_ms = CASE WHEN r.started_at IS NULL THEN NULL ELSE v.finished_at - r.started_at END, ` +
  `r.updated_at = GREATEST(v.finished_at, ?)`;

/**
 * Bytes of output and error text per MySQL statement: far below the server's max_allowed_packet (16 MiB on
 * MariaDB 10.11, 64 MiB on MySQL 8), with every result's output up to 64 KiB.
 */
const MAX_STATEMENT_BYTES = 4 * 1024 * 1024;

/**
 * Consecutive slices of `items` of at most `maxItems` and about `maxBytes` by `sizeOf` (a larger single item goes
 * alone): for statements and messages that have a size limit.
 */
export function boundedChunks<T>(items: T[], sizeOf: (item: T) => number, maxBytes: number, maxItems: number): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (chunk.length > 0 && (bytes + size > maxBytes || chunk.length >= maxItems)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** A result's text in a statement, in bytes at most (UTF-8 is at most 3 bytes per UTF-16 unit). */
const resultBytes = ({ result: r }: { result: RunResult }) =>
  200 + 3 * ((r.output?.length ?? 0) + (r.error?.length ?? 0));

function silentlyRefused(runs: NewRun[]): Error {
  const first = runs[0];
  return new Error(
    `the database dropped ${runs.length} run row(s) without an error (first: job ${first.jobId}, tick ` +
      `${first.tickKey}, attempt ${first.attempt}); a value breaks a column limit or constraint`,
  );
}

/** FINISH_ONE_SQL's and finishFromSql's parameters before the statuses: RESULT's values, the finish instant, id. */
function resultParams(id: number, r: RunResult): unknown[] {
  const params = new Array<unknown>(RESULT.columns.length + 3);
  const at = RESULT.put(params, 0, r);
  params[at] = Math.trunc(r.finishedAt);
  params[at + 1] = Math.max(r.finishedAt, Date.now());
  params[at + 2] = id;
  return params;
}

/** What finishClaimingRetry answers: whether the result moved the run, and the id of the retry it claimed. */
export interface FinishedWithRetry {
  finished: boolean;
  retryId: number | null;
}

const keyOf = (jobId: number, tickKey: string, attempt: number, executorKey: string) =>
  `${jobId}\u0000${tickKey}\u0000${attempt}\u0000${executorKey}`;

/**
 * The run ledger's hot path, many rows a statement: the ticks of one timer firing are claimed in one INSERT, the
 * runs an executor takes are moved to running in one compare-and-set, and results are written in one transaction.
 * Same guarantees as RunsRepository's single-row methods (the unique key decides who claimed a tick; status moves
 * forward only), at a fraction of the statements: at 1,000 ticks a second the per-row path spent its time in
 * TypeORM and round trips (docs/benchmarks.md, "Where gocron-ts's time goes").
 *
 * Raw SQL on purpose: TypeORM's save() has no multi-row insert-or-ignore, and its hydration was a third of the
 * dispatcher's CPU at that rate.
 */
@Injectable()
export class RunBatchRepository {
  private readonly sqlite: boolean;

  private returning: Promise<boolean> | null = null;

  /** SQLite: statements prepared once on the driver's connection (and again should it be another). */
  private readonly prepared = new Map<string, Statement>();
  private preparedOn: Database | null = null;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.sqlite = ds.options.type === 'better-sqlite3';
  }

  /** SQLite: the driver's one connection, for synchronous transactions no other statement can join. */
  private get db(): Database {
    return (this.ds.driver as unknown as { databaseConnection: Database }).databaseConnection;
  }

  private statement(sql: string): Statement {
    if (this.preparedOn !== this.db) {
      this.prepared.clear();
      this.preparedOn = this.db;
    }
    let stmt = this.prepared.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.prepared.set(sql, stmt);
    }
    return stmt;
  }

  /** Whether INSERT … RETURNING is there: SQLite and MariaDB ≥ 10.5 have it, MySQL has not. Asked once. */
  protected insertReturns(): Promise<boolean> {
    if (this.sqlite) return Promise.resolve(true);
    this.returning ??= this.ds
      .query<{ v: string }[]>(`SELECT VERSION() AS v`)
      .then(([row]) => {
        const m = /^(\d+)\.(\d+).*mariadb/i.exec(row?.v ?? '');
        return m !== null && (Number(m[1]) > 10 || (Number(m[1]) === 10 && Number(m[2]) >= 5));
      })
      .catch(() => {
        this.returning = null; // ask again next time
        return false;
      });
    return this.returning;
  }

  /**
   * Inserts the runs whose ledger key is free; answers each input's new id, or null where the key was taken (another
   * dispatcher claimed that tick). Rows are written in key order so two dispatchers inserting overlapping batches
   * take their index locks in the same order (MySQL), and a deadlock victim is retried whole.
   */
  async claimMany(runs: NewRun[], now = Date.now()): Promise<(number | null)[]> {
    const ids = new Array<number | null>(runs.length).fill(null);
    const order = runs
      .map((r, i) => ({ r, i, key: keyOf(r.jobId, r.tickKey, r.attempt, r.executorKey ?? '') }))
      .sort((a, b) => a.r.jobId - b.r.jobId || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (let c = 0; c < order.length; c += CHUNK) {
      const chunk = order.slice(c, c + CHUNK);
      const values = new Array<unknown>(chunk.length * CLAIM.columns.length);
      let at = 0;
      for (const { r } of chunk) at = CLAIM.put(values, at, r, now);
      const rowsSql = chunk.map(() => CLAIM_ROW).join(', ');
      // A key twice in one batch: the first row is the one the database keeps, so it gets the id and the other is
      // answered as taken (a Map built in one go would keep the last index and hand the id to the wrong row).
      const byKey = new Map<string, number>();
      for (const e of chunk) if (!byKey.has(e.key)) byKey.set(e.key, e.i);
      if (await this.insertReturns()) {
        // RETURNING lists only the rows actually inserted (SQLite ≥ 3.35, better-sqlite3 12 bundles 3.4x; MariaDB
        // ≥ 10.5, INSERT IGNORE included).
        const ignore = this.sqlite ? 'INSERT OR IGNORE' : 'INSERT IGNORE';
        const rows = await retryBusy<
          { id: number; job_id: number; tick_key: string; attempt: number; executor_key: string }[]
        >(() =>
          this.ds.query(
            `${ignore} INTO runs (${CLAIM_COLUMNS}) VALUES ${rowsSql} ` +
              `RETURNING id, job_id, tick_key, attempt, executor_key`,
            values,
          ),
        );
        for (const row of rows) {
          const i = byKey.get(keyOf(Number(row.job_id), row.tick_key, Number(row.attempt), row.executor_key));
          if (i !== undefined) ids[i] = Number(row.id);
        }
        const notOurs = chunk.filter((e) => ids[e.i] === null);
        if (notOurs.length > 0) await this.assertRecorded(notOurs);
        continue;
      }
      // MySQL has no RETURNING: insert what is free, then read the keys back. A row is ours when it carries our
      // dispatcher id and this batch's creation instant; a row of another dispatcher (or of an earlier batch) is not.
      await retryBusy(() => this.ds.query(`INSERT IGNORE INTO runs (${CLAIM_COLUMNS}) VALUES ${rowsSql}`, values));
      const jobIds = [...new Set(chunk.map((e) => e.r.jobId))];
      const tickKeys = [...new Set(chunk.map((e) => e.r.tickKey))];
      const rows = await this.ds.query<
        {
          id: number;
          job_id: number;
          tick_key: string;
          attempt: number;
          executor_key: string;
          dispatcher_id: string | null;
          created_at: string | number;
        }[]
      >(
        `SELECT id, job_id, tick_key, attempt, executor_key, dispatcher_id, created_at FROM runs ` +
          `WHERE job_id IN (${placeholders(jobIds.length)}) AND tick_key IN (${placeholders(tickKeys.length)})`,
        [...jobIds, ...tickKeys],
      );
      const recorded = new Set<string>();
      for (const row of rows) {
        const key = keyOf(Number(row.job_id), row.tick_key, Number(row.attempt), row.executor_key);
        const i = byKey.get(key);
        if (i === undefined) continue;
        recorded.add(key);
        // (The column keeps 128 characters of the id.)
        const mine = row.dispatcher_id === (runs[i].dispatcherId ?? '').slice(0, 128);
        if (mine && Number(row.created_at) === now) ids[i] = Number(row.id);
      }
      const missing = chunk.filter((e) => !recorded.has(e.key));
      if (missing.length > 0) throw silentlyRefused(missing.map((e) => e.r));
    }
    return ids;
  }

  /**
   * An ignored row must be one that another writer holds. INSERT IGNORE (MySQL) and OR IGNORE (SQLite) also drop a
   * row that breaks a constraint or a column size without an error: such a tick must fail loudly (and be retried),
   * not pass for claimed elsewhere.
   */
  private async assertRecorded(entries: { r: NewRun; key: string }[]): Promise<void> {
    const jobIds = [...new Set(entries.map((e) => e.r.jobId))];
    const tickKeys = [...new Set(entries.map((e) => e.r.tickKey))];
    const rows = await this.ds.query<{ job_id: number; tick_key: string; attempt: number; executor_key: string }[]>(
      `SELECT job_id, tick_key, attempt, executor_key FROM runs ` +
        `WHERE job_id IN (${placeholders(jobIds.length)}) AND tick_key IN (${placeholders(tickKeys.length)})`,
      [...jobIds, ...tickKeys],
    );
    const recorded = new Set(rows.map((r) => keyOf(Number(r.job_id), r.tick_key, Number(r.attempt), r.executor_key)));
    const missing = entries.filter((e) => !recorded.has(e.key));
    if (missing.length > 0) throw silentlyRefused(missing.map((e) => e.r));
  }

  /**
   * Folds `forbid` skips into the record of the job's previous tick: for each request, the `skipped` record under
   * (job, `prevKey`) with the same reason (the same active run) takes the new tick: its ledger key and `scheduledAt`
   * move to the tick, its count grows, its first tick stays. Answers per request `extended`; `taken` when another
   * record already holds the tick's key (the unique key refused the move: the tick is recorded elsewhere, as a run
   * or a skip, and is not folded); `absent` when there is no such record to extend (the caller inserts the skip as
   * its own record). One UPDATE per request on the unique key; the key moving with each tick keeps the newest tick
   * fenced by the unique key, and the record's range [skippedFrom, scheduledAt] fences the older ones (TickClaimer
   * reads it before deciding a tick).
   */
  async extendSkips(requests: SkipExtension[], now = Date.now()): Promise<('extended' | 'taken' | 'absent')[]> {
    const params = (r: SkipExtension) => [r.tickKey, r.scheduledAt, now, now, r.jobId, r.prevKey, r.reason];
    if (this.sqlite) {
      const stmt = this.statement(EXTEND_SKIP_SQL);
      const tx = this.db.transaction((list: SkipExtension[]) =>
        list.map((r) => {
          try {
            return stmt.run(...params(r)).changes > 0 ? ('extended' as const) : ('absent' as const);
          } catch (e) {
            if (isDuplicateOn(e, LEDGER_KEY)) return 'taken' as const;
            throw e;
          }
        }),
      );
      return retryBusy(() => Promise.resolve(tx(requests)));
    }
    return Promise.all(
      requests.map(async (r) => {
        try {
          const res = await retryBusy<{ affectedRows?: number }>(() => this.ds.query(EXTEND_SKIP_SQL, params(r)));
          return (res.affectedRows ?? 0) > 0 ? ('extended' as const) : ('absent' as const);
        } catch (e) {
          if (isDuplicateOn(e, LEDGER_KEY)) return 'taken' as const;
          throw e;
        }
      }),
    );
  }

  /**
   * The `skipped` records of these jobs that cover several ticks and reach `from` or later, as [first, last] tick
   * per job: the folded `forbid` skips and the dropped ranges written with their first tick. On (job_id,
   * scheduled_at): only the records at or after `from` are read, whatever the history.
   */
  async skipRangesReaching(jobIds: number[], from: number): Promise<Map<number, [number, number][]>> {
    const out = new Map<number, [number, number][]>();
    for (let c = 0; c < jobIds.length; c += CHUNK) {
      const chunk = jobIds.slice(c, c + CHUNK);
      const rows = await this.ds.query<
        { job_id: number | string; skipped_from: number | string; scheduled_at: number | string }[]
      >(
        `SELECT job_id, skipped_from, scheduled_at FROM runs WHERE job_id IN (${placeholders(chunk.length)}) ` +
          `AND scheduled_at >= ? AND skipped_from IS NOT NULL AND status = 'skipped'`,
        [...chunk, from],
      );
      for (const r of rows) {
        const list = out.get(Number(r.job_id)) ?? [];
        list.push([Number(r.skipped_from), Number(r.scheduled_at)]);
        out.set(Number(r.job_id), list);
      }
    }
    return out;
  }

  /** Pending and running runs of these jobs, oldest first, by job. */
  async findActiveOf(jobIds: number[]): Promise<Map<number, ActiveRunRow[]>> {
    const out = new Map<number, ActiveRunRow[]>();
    for (let c = 0; c < jobIds.length; c += CHUNK) {
      const chunk = jobIds.slice(c, c + CHUNK);
      const rows = await this.ds.query<
        { id: number; job_id: number; tick_key: string; status: RunStatus; scheduled_at: string | number }[]
      >(
        `SELECT id, job_id, tick_key, status, scheduled_at FROM runs ` +
          `WHERE job_id IN (${placeholders(chunk.length)}) AND status IN ('pending', 'running') ORDER BY id`,
        chunk,
      );
      for (const r of rows) {
        const jobId = Number(r.job_id);
        const list = out.get(jobId) ?? [];
        list.push({
          id: Number(r.id),
          jobId,
          tickKey: r.tick_key,
          status: r.status,
          scheduledAt: Number(r.scheduled_at),
        });
        out.set(jobId, list);
      }
    }
    return out;
  }

  /**
   * Compare-and-set pending → running for many runs at once, each only as the ledger holds it: the row must have the
   * id, job, tick key, attempt, executor key and scheduled instant it was offered under (`runs`). Of two executors
   * offered one run, exactly one gets it (the UPDATE's status condition), as with every status write of the ledger;
   * a run offered under a key that is not its own (run X named as job Y's when it is job Z's, another attempt, another
   * tick) is not moved at all, and answered as mismatched. The offered values are thereby the ledger's: an executor
   * can use them (the attempt and instant a task is told, the key a retry is claimed under) without reading the row.
   */
  async markRunningMany(
    runs: LedgerKey[],
    executorId: string,
    executorAddress: string,
    startedAt = Date.now(),
  ): Promise<RunStarts> {
    const out: RunStarts = { started: new Set(), mismatched: new Set() };
    const set = `SET status = 'running', executor_id = ?, executor_address = ?, started_at = ?, updated_at = ?`;
    for (let c = 0; c < runs.length; c += CHUNK) {
      const chunk = runs.slice(c, c + CHUNK);
      if (this.sqlite) {
        const keys = new Array<unknown>(chunk.length * OFFERED.columns.length);
        let at = 0;
        for (const r of chunk) at = OFFERED.put(keys, at, r);
        const rows = chunk.map(() => OFFERED_ROW).join(', ');
        // The ids first, for lookups on the primary key; the whole key against the offered rows, each compared as a
        // row value (TEXT compares byte for byte in SQLite).
        const moved = await retryBusy<{ id: number }[]>(() =>
          this.ds.query(
            `UPDATE runs ${set} WHERE status = 'pending' AND id IN (${placeholders(chunk.length)}) ` +
              `AND (${OFFERED.columns.join(', ')}) IN (VALUES ${rows}) RETURNING id`,
            [executorId, executorAddress, startedAt, startedAt, ...chunk.map((r) => r.id), ...keys],
          ),
        );
        for (const r of moved) out.started.add(Number(r.id));
        if (moved.length < chunk.length) await this.sortUnstarted(chunk, out, null);
        continue;
      }
      // MySQL: the ids for the primary key, the whole key as bytes against the offered ones. (A key with a NUL in its
      // text is left out: it is sorted out below, against the row as read.)
      const sendable = chunk.filter((r) => !r.tickKey.includes(NUL) && !r.executorKey.includes(NUL));
      const offeredBytes = sendable.map((r) => {
        const values: unknown[] = [];
        OFFERED.put(values, 0, r);
        return values.join(NUL);
      });
      const res =
        sendable.length === 0
          ? { affectedRows: 0 }
          : await retryBusy<{ affectedRows?: number }>(() =>
              this.ds.query(
                `UPDATE runs ${set} WHERE status = 'pending' AND id IN (${placeholders(sendable.length)}) ` +
                  `AND ${OFFERED_BYTES} IN (${placeholders(sendable.length)})`,
                [executorId, executorAddress, startedAt, startedAt, ...sendable.map((r) => r.id), ...offeredBytes],
              ),
            );
      if (res.affectedRows === chunk.length) {
        for (const r of chunk) out.started.add(r.id); // every one of them moved: no need to ask which
        continue;
      }
      // Some were not moved: ours are those running here since this very instant under the offered key (a cancel
      // recorded in between leaves one out, so it is not started).
      await this.sortUnstarted(chunk, out, { executorId, startedAt });
    }
    return out;
  }

  /**
   * After a start's compare-and-set moved fewer rows than offered: reads the rows not known to be started and sorts
   * them into started (MySQL: running here since `mine.startedAt` under the offered key), mismatched (the row's key is
   * not the offered one) or neither (not pending: taken, ended, or no such run).
   */
  private async sortUnstarted(
    chunk: LedgerKey[],
    out: RunStarts,
    mine: { executorId: string; startedAt: number } | null,
  ): Promise<void> {
    const unknown = chunk.filter((r) => !out.started.has(r.id));
    const rows = await this.ds.query<
      (LedgerKeyRow & { status: RunStatus; executor_id: string | null; started_at: number | string | null })[]
    >(
      `SELECT id, job_id, tick_key, attempt, executor_key, scheduled_at, status, executor_id, started_at FROM runs ` +
        `WHERE id IN (${placeholders(unknown.length)})`,
      unknown.map((r) => r.id),
    );
    const byId = new Map(rows.map((row) => [Number(row.id), row]));
    for (const r of unknown) {
      const row = byId.get(r.id);
      if (!row) continue;
      const key = ledgerKeyOfRow(row);
      const same =
        key.jobId === r.jobId &&
        key.tickKey === r.tickKey &&
        key.attempt === r.attempt &&
        key.executorKey === r.executorKey &&
        key.scheduledAt === r.scheduledAt;
      if (!same) out.mismatched.add(r.id);
      else if (
        mine &&
        row.status === 'running' &&
        row.executor_id === mine.executorId.slice(0, 128) &&
        Number(row.started_at) === mine.startedAt
      ) {
        out.started.add(r.id);
      }
    }
  }

  /**
   * Final results of running runs, in one transaction; answers the ids whose row moved (the others already had a
   * final status: a late report). Retries are not claimed here: results that may need one go through
   * RunsRepository.finishWithRetry.
   */
  async finishMany(results: { id: number; result: RunResult }[]): Promise<Set<number>> {
    if (results.length === 0) return new Set();
    if (this.sqlite) {
      // One synchronous transaction on the driver's connection: nothing else can interleave with it (TypeORM's
      // shared query runner would let concurrent statements join an async BEGIN … COMMIT).
      const stmt = this.statement(FINISH_ONE_SQL);
      const write = this.db.transaction((rows: typeof results) => {
        const moved = new Set<number>();
        for (const row of rows) if (stmt.run(...resultParams(row.id, row.result)).changes > 0) moved.add(row.id);
        return moved;
      });
      return retryBusy(() => Promise.resolve(write(results)));
    }
    // MySQL: one multi-table UPDATE against the results as a derived table, then a read of which rows carry them
    // (a row that already had a final status keeps its own finish time).
    const moved = new Set<number>();
    for (const chunk of boundedChunks(results, resultBytes, MAX_STATEMENT_BYTES, CHUNK / 4)) {
      const derived = [RESULT_FIRST_ROW, ...chunk.slice(1).map(() => RESULT_ROW)].join(' UNION ALL ');
      const params = new Array<unknown>(chunk.length * (1 + RESULT.columns.length) + 1);
      let at = 0;
      for (const { id, result } of chunk) {
        params[at] = id;
        at = RESULT.put(params, at + 1, result);
      }
      params[at] = Date.now(); // updated_at: at least the write's own instant
      await retryBusy(() =>
        this.ds.query(
          `UPDATE runs r JOIN (${derived}) v ON r.id = v.id ${FINISH_FROM_DERIVED_SET} WHERE r.status = 'running'`,
          params,
        ),
      );
      const want = new Map(chunk.map(({ id, result: r }) => [id, `${r.status}:${r.finishedAt}`]));
      const rows = await this.ds.query<{ id: number; status: string; finished_at: string | number | null }[]>(
        `SELECT id, status, finished_at FROM runs WHERE id IN (${placeholders(chunk.length)})`,
        chunk.map((r) => r.id),
      );
      for (const row of rows) {
        if (want.get(Number(row.id)) === `${row.status}:${Number(row.finished_at)}`) moved.add(Number(row.id));
      }
    }
    return moved;
  }

  /**
   * A final result and the next attempt it calls for, in one transaction: compare-and-set the run from one of
   * `from` to the result's status, then insert `retry` when the result moved it, or when the run already carries
   * this very status (our own earlier write landed and its reply was lost). Both or neither: a crash or a refused
   * row between the two can not leave a failed run with retries left and no next attempt. A retry whose ledger key
   * is taken (another writer claimed it) is answered as null, the result still written.
   */
  async finishClaimingRetry(
    id: number,
    result: RunResult,
    from: readonly RunStatus[],
    retry: NewRun,
    now = result.finishedAt,
  ): Promise<FinishedWithRetry> {
    const finishSql = finishFromSql(from.length);
    const finishParams = [...resultParams(id, result), ...from];
    const retryParams = new Array<unknown>(CLAIM.columns.length);
    CLAIM.put(retryParams, 0, retry, now);
    if (this.sqlite) {
      // Synchronous, as finishMany: no statement of another caller can join it on the shared connection.
      const finish = this.statement(finishSql);
      const status = this.statement('SELECT status FROM runs WHERE id = ?');
      const insert = this.statement(CLAIM_ONE_SQL);
      const write = this.db.transaction((): FinishedWithRetry => {
        const finished = finish.run(...finishParams).changes > 0;
        if (!finished && (status.get(id) as { status: string } | undefined)?.status !== result.status) {
          return { finished, retryId: null };
        }
        try {
          return { finished, retryId: Number(insert.run(...retryParams).lastInsertRowid) };
        } catch (e) {
          // SQLite aborts the refused statement only: the result above stands.
          if (isDuplicateOn(e, LEDGER_KEY)) return { finished, retryId: null };
          throw e;
        }
      });
      return retryBusy(() => Promise.resolve(write.immediate()));
    }
    // MySQL: a transaction on a connection of its own. A deadlock victim is rolled back whole and retried whole.
    return retryBusy(() =>
      this.ds.transaction(async (m): Promise<FinishedWithRetry> => {
        const moved = await m.query<{ affectedRows?: number }>(finishSql, finishParams);
        const finished = (moved.affectedRows ?? 0) > 0;
        if (!finished) {
          // A locking read: the latest committed status, whatever this transaction's snapshot.
          const [row] = await m.query<{ status: string }[]>('SELECT status FROM runs WHERE id = ? FOR UPDATE', [id]);
          if (row?.status !== result.status) return { finished, retryId: null };
        }
        try {
          const inserted = await m.query<{ insertId: number | string }>(CLAIM_ONE_SQL, retryParams);
          return { finished, retryId: Number(inserted.insertId) };
        } catch (e) {
          // InnoDB rolls back the refused statement only: the result above stands. (A duplicate whose message names
          // no key we know, from a server answering in another language: the ledger row says whether it is taken.)
          if (isDuplicateOn(e, LEDGER_KEY)) return { finished, retryId: null };
          if (isDuplicateKey(e)) {
            const [taken] = await m.query<{ n: number | string }[]>(
              'SELECT COUNT(*) AS n FROM runs WHERE job_id = ? AND tick_key = ? AND attempt = ? AND executor_key = ?',
              [retry.jobId, retry.tickKey, retry.attempt, retry.executorKey ?? ''],
            );
            if (Number(taken.n) > 0) return { finished, retryId: null };
          }
          throw e;
        }
      }),
    );
  }
}
