// The bench's own connection to a setup's ledger: bulk job rows in (far faster than the API for 100,000 jobs),
// run rows out. The apps never share it; it opens after their migrations.
import Database from 'better-sqlite3';
import { createPool } from 'mysql2/promise';
import type { TestDatabase } from '../../test/support/services';

export type Row = Record<string, unknown>;

export interface LedgerDb {
  /** Quotes a column name for this dialect. */
  q: (column: string) => string;
  all<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  insertJobs(rows: JobRow[]): Promise<void>;
  close(): Promise<void>;
}

export function openSqliteLedger(path: string): LedgerDb {
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  return {
    q: (c) => `"${c}"`,
    all: <T>(sql: string, params: unknown[] = []) => Promise.resolve(db.prepare(sql).all(...params) as T[]),
    insertJobs(rows) {
      const cols = Object.keys(rows[0]) as (keyof JobRow)[];
      const st = db.prepare(`INSERT INTO jobs (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`);
      db.transaction((rs: JobRow[]) => {
        for (const r of rs) st.run(...cols.map((c) => r[c]));
      })(rows);
      return Promise.resolve();
    },
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}

export function openMysqlLedger(database: TestDatabase): LedgerDb {
  const pool = createPool({ ...database.connection, connectionLimit: 2, supportBigNumbers: true });
  return {
    q: (c) => `\`${c}\``,
    all: async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params))[0] as T[],
    async insertJobs(rows) {
      const cols = Object.keys(rows[0]) as (keyof JobRow)[];
      for (let i = 0; i < rows.length; i += 2000) {
        const chunk = rows.slice(i, i + 2000).map((r) => cols.map((c) => r[c]));
        await pool.query(`INSERT INTO jobs (${cols.map((c) => `\`${c}\``).join(',')}) VALUES ?`, [chunk]);
      }
    },
    close: () => pool.end(),
  };
}

export interface JobRow {
  name: string;
  description: string;
  cron: string;
  timezone: string;
  type: 'http' | 'shell';
  command: string | null;
  env: string;
  http: string | null;
  timeout_ms: number;
  retries: number;
  retry_backoff_ms: number;
  concurrency: string;
  misfire: string;
  group_name: string;
  routing: string;
  enabled: number;
  schedule_set_at: number;
  last_tick_at: number;
  next_run_at: null;
  version: number;
  created_at: number;
  updated_at: number;
}

/** A job row: an HTTP GET of `url`, or with `command` a shell job. */
export function jobRow(
  i: number,
  prefix: string,
  cron: string,
  url: string | null,
  now: number,
  command: string | null = null,
): JobRow {
  return {
    name: `${prefix}-${i}`,
    description: '',
    cron,
    timezone: 'UTC',
    type: command == null ? 'http' : 'shell',
    command,
    env: '{}',
    http: command == null ? JSON.stringify({ method: 'GET', url, headers: {}, body: '', expectStatus: [200] }) : null,
    timeout_ms: 60000,
    retries: 0,
    retry_backoff_ms: 1000,
    concurrency: 'allow',
    misfire: 'skip',
    group_name: 'default',
    routing: 'round_robin',
    enabled: 1,
    schedule_set_at: now,
    last_tick_at: now,
    next_run_at: null,
    version: 1,
    created_at: now,
    updated_at: now,
  };
}

/** `n` job rows named `<prefix>-<i>` with the same schedule and task. */
export function jobRows(
  n: number,
  prefix: string,
  cron: string,
  url: string | null,
  command: string | null = null,
): JobRow[] {
  const now = Date.now();
  const rows: JobRow[] = [];
  for (let i = 0; i < n; i++) rows.push(jobRow(i, prefix, cron, url, now, command));
  return rows;
}
