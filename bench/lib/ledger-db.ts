// The bench's own connection to a setup's ledger: bulk job rows in (far faster than the API for 100,000 jobs),
// bulk history rows in (W6), run rows out. The apps never share it; it opens after their migrations.
import Database from 'better-sqlite3';
import { createPool } from 'mysql2/promise';
import type { TestDatabase } from '../../test/support/services';

export type Row = Record<string, unknown>;

export interface LedgerDb {
  /** Quotes a column name for this dialect. */
  q: (column: string) => string;
  all<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** A statement that returns no rows (UPDATE, DELETE). */
  run(sql: string, params?: unknown[]): Promise<void>;
  insertJobs(rows: JobRow[]): Promise<void>;
  /**
   * Multi-row INSERTs of `rows` (values in `columns` order), `rowsPerStatement(columns)` a statement; on SQLite all
   * of them in one transaction.
   */
  insertRows(table: string, columns: readonly string[], rows: unknown[][]): Promise<void>;
  /** Rows a statement of insertRows: SQLite by its 32,766 bound variables, MySQL by packet size (5,000). */
  rowsPerStatement(columns: readonly string[]): number;
  /** The database's size: data and indexes (MySQL: information_schema after ANALYZE TABLE; SQLite: its pages). */
  storageBytes(): Promise<number>;
  close(): Promise<void>;
}

/** SQLite's bound-variable limit (SQLITE_MAX_VARIABLE_NUMBER since 3.32). */
const SQLITE_MAX_VARIABLES = 32_766;
/** Rows of a MySQL multi-row INSERT: 5,000 run rows are about 1.5 MB of SQL, far below max_allowed_packet (16 MiB). */
const MYSQL_ROWS_PER_STATEMENT = 5000;

export function openSqliteLedger(path: string): LedgerDb {
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  const rowsPerStatement = (columns: readonly string[]): number =>
    Math.min(1000, Math.floor(SQLITE_MAX_VARIABLES / columns.length));
  const inserts = new Map<string, Database.Statement>();
  const insertOf = (table: string, columns: readonly string[], n: number): Database.Statement => {
    const key = `${table}(${columns.join(',')})*${n}`;
    let st = inserts.get(key);
    if (!st) {
      const row = `(${columns.map(() => '?').join(',')})`;
      const cols = columns.map((c) => `"${c}"`).join(',');
      st = db.prepare(`INSERT INTO ${table} (${cols}) VALUES ${Array(n).fill(row).join(',')}`);
      inserts.set(key, st);
    }
    return st;
  };
  return {
    q: (c) => `"${c}"`,
    all: <T>(sql: string, params: unknown[] = []) => Promise.resolve(db.prepare(sql).all(...params) as T[]),
    run(sql, params = []) {
      db.prepare(sql).run(...params);
      return Promise.resolve();
    },
    rowsPerStatement,
    insertRows(table, columns, rows) {
      const per = rowsPerStatement(columns);
      db.transaction(() => {
        for (let i = 0; i < rows.length; i += per) {
          const chunk = rows.slice(i, i + per);
          insertOf(table, columns, chunk.length).run(chunk.flat());
        }
      })();
      return Promise.resolve();
    },
    storageBytes() {
      const pages = Number(db.pragma('page_count', { simple: true }));
      const size = Number(db.pragma('page_size', { simple: true }));
      return Promise.resolve(pages * size);
    },
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

export function openMysqlLedger(database: Pick<TestDatabase, 'connection'>): LedgerDb {
  const pool = createPool({ ...database.connection, connectionLimit: 2, supportBigNumbers: true });
  return {
    q: (c) => `\`${c}\``,
    all: async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params))[0] as T[],
    async run(sql, params = []) {
      await pool.query(sql, params);
    },
    rowsPerStatement: () => MYSQL_ROWS_PER_STATEMENT,
    async insertRows(table, columns, rows) {
      const cols = columns.map((c) => `\`${c}\``).join(',');
      for (let i = 0; i < rows.length; i += MYSQL_ROWS_PER_STATEMENT) {
        await pool.query(`INSERT INTO ${table} (${cols}) VALUES ?`, [rows.slice(i, i + MYSQL_ROWS_PER_STATEMENT)]);
      }
    },
    async storageBytes() {
      // InnoDB's sizes in information_schema are its statistics': brought up to date first
      await pool.query(`ANALYZE TABLE jobs, runs`);
      const [rows] = await pool.query(
        `SELECT SUM(data_length + index_length) AS n FROM information_schema.tables WHERE table_schema = ?`,
        [database.connection.database],
      );
      return Number((rows as { n: number | string | null }[])[0].n ?? 0);
    },
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
