// How long the wide-ids migration (issue 10) takes on MariaDB over a run ledger with history.
//
//   node --import tsx bench/alter-timing.ts [--rows=10000000] [--keep]
//
// In a database of its own (gocron_bench_alter, dropped first if a failed run left it, and afterwards unless --keep):
// the schema as it was before the change (the first two migrations, InitialSchema1764000000000 and
// ActiveRunsIndex1764900000000, run through a TypeORM DataSource as the dispatcher runs them), 1,000 jobs and N runs
// of 30 days' history (bench/lib/history.ts, W6's generator), then each statement of WideIds1765000000000's `up`
// timed on its own, inside the transaction TypeORM's `transaction: 'each'` gives it. Before that migration existed
// the statements below were timed instead (FALLBACK_STATEMENTS). Prints a Markdown table. Needs MariaDB on loopback
// (GOCRON_TEST_MYSQL_* of scripts/test-services.sh); the apps need not be built.
import { performance } from 'node:perf_hooks';
import { createConnection, RowDataPacket } from 'mysql2/promise';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { MIGRATIONS } from '../libs/persistence/src/migrations';
import { testServices } from '../test/support/services';
import { historyJobRows, planHistory, prefillHistory } from './lib/history';
import { openMysqlLedger } from './lib/ledger-db';

const DATABASE = 'gocron_bench_alter';
const BEFORE = ['InitialSchema1764000000000', 'ActiveRunsIndex1764900000000'];
const UNDER_TEST = 'WideIds1765000000000';
const FALLBACK_STATEMENTS = [
  'ALTER TABLE runs MODIFY id BIGINT NOT NULL AUTO_INCREMENT, MODIFY job_id BIGINT NOT NULL',
  'CREATE INDEX ix_runs_updated ON runs (updated_at, id)',
  'CREATE INDEX ix_runs_job_sched ON runs (job_id, scheduled_at)',
];

type MigrationClass = new () => MigrationInterface;

const out = (s: string): boolean => process.stdout.write(`${s}\n`);
const note = (s: string): boolean =>
  process.stderr.write(`[alter-timing ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const nameOf = (m: MigrationClass): string => new m().name ?? m.name;

function migration(name: string): MigrationClass | undefined {
  return (MIGRATIONS as MigrationClass[]).find((m) => nameOf(m) === name);
}

/** A statement on one line, at most 110 characters, for the table. */
function oneLine(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 110 ? `${s.slice(0, 107)}…` : s;
}

interface Timed {
  sql: string;
  ms: number;
}

/** The runner with its `query` timed: TypeORM's own helpers (createIndex, changeColumn, …) go through it too. */
function timedRunner(qr: QueryRunner, into: Timed[]): QueryRunner {
  return new Proxy(qr, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
      return async (sql: string, params?: unknown[]): Promise<unknown> => {
        const t0 = performance.now();
        try {
          return (await target.query(sql, params)) as unknown;
        } finally {
          into.push({ sql, ms: performance.now() - t0 });
        }
      };
    },
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const rowsArg = argv.find((a) => a.startsWith('--rows='));
  const rows = rowsArg ? Number(rowsArg.slice('--rows='.length)) : 10_000_000;
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`--rows: ${rowsArg} is not a whole number`);
  const keep = argv.includes('--keep');
  const before = BEFORE.map((n) => {
    const m = migration(n);
    if (!m) throw new Error(`migration ${n} is not in MIGRATIONS`);
    return m;
  });
  const underTest = migration(UNDER_TEST);

  const { mysql } = testServices();
  const admin = await createConnection({ ...mysql });
  const ds = new DataSource({
    type: 'mysql',
    host: mysql.host,
    port: mysql.port,
    username: mysql.user,
    password: mysql.password,
    database: DATABASE,
    migrations: before,
    synchronize: false,
    logging: false,
  });
  const ledger = openMysqlLedger({ connection: { ...mysql, database: DATABASE } });
  try {
    const [[server]] = await admin.query<RowDataPacket[]>(
      `SELECT @@version AS version, @@innodb_buffer_pool_size AS pool, @@innodb_flush_log_at_trx_commit AS flush`,
    );
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
    await admin.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    note(`schema before the change: ${BEFORE.join(', ')}`);

    const plan = planHistory(1000, rows, 30);
    await ledger.insertJobs(historyJobRows(plan, 'alter', 'http://127.0.0.1:9/'));
    const ids = (await ledger.all<{ id: number | string }>(`SELECT id FROM jobs ORDER BY id`)).map((r) => Number(r.id));
    note(`prefilling ${rows} runs …`);
    const fill = await prefillHistory(ledger, plan, ids);
    note(`${fill.rows} runs in ${fill.ms} ms (${fill.rowsPerSec} rows/s)`);
    await admin.query(`ANALYZE TABLE ${DATABASE}.runs`);
    const size = async (): Promise<string> => {
      const [r] = await admin.query<RowDataPacket[]>(
        `SELECT ROUND(data_length / 1048576) AS data, ROUND(index_length / 1048576) AS idx ` +
          `FROM information_schema.tables ` +
          `WHERE table_schema = ? AND table_name = 'runs'`,
        [DATABASE],
      );
      return `${r[0].data} MB data + ${r[0].idx} MB indexes (information_schema, after ANALYZE)`;
    };
    const sizeBefore = await size();

    const timed: Timed[] = [];
    const qr = ds.createQueryRunner();
    await qr.connect();
    const t0 = performance.now();
    try {
      if (underTest) {
        note(`timing ${UNDER_TEST}.up …`);
        await qr.startTransaction();
        await new underTest().up(timedRunner(qr, timed));
        await qr.commitTransaction();
      } else {
        note(`${UNDER_TEST} is not in MIGRATIONS yet: timing the planned statements directly`);
        const runner = timedRunner(qr, timed);
        for (const sql of FALLBACK_STATEMENTS) await runner.query(sql);
      }
    } finally {
      await qr.release();
    }
    const totalMs = performance.now() - t0;
    await admin.query(`ANALYZE TABLE ${DATABASE}.runs`);
    const sizeAfter = await size();
    const [[{ n: rowsAfter }]] = await admin.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${DATABASE}.runs`);
    const [[idCol]] = await admin.query<RowDataPacket[]>(
      `SELECT COLUMN_TYPE AS type FROM information_schema.columns ` +
        `WHERE table_schema = ? AND table_name = 'runs' AND column_name = 'id'`,
      [DATABASE],
    );

    out('');
    out(`Migration timing: ${underTest ? UNDER_TEST : 'the planned statements (no migration class yet)'} on MariaDB`);
    out('');
    out(
      `- server ${server.version}, innodb_buffer_pool_size ${Math.round(Number(server.pool) / 1048576)} MB, ` +
        `innodb_flush_log_at_trx_commit ${server.flush}`,
    );
    out(
      `- runs: ${fill.rows} rows over ${fill.jobs} jobs and ${fill.days} days, ` +
        `prefilled in ${(fill.ms / 1000).toFixed(1)} s ` +
        `(${fill.rowsPerSec} rows/s, ${fill.statements} INSERTs of ≤ ${fill.rowsPerStatement} rows)`,
    );
    out(`- runs before: ${sizeBefore}`);
    out(`- runs after: ${sizeAfter}; ${rowsAfter} rows; runs.id is ${idCol?.type}`);
    out('');
    out('| # | statement | seconds |');
    out('| --- | --- | --- |');
    timed.forEach((t, i) => out(`| ${i + 1} | \`${oneLine(t.sql)}\` | ${(t.ms / 1000).toFixed(2)} |`));
    out(`| | total (with the transaction's statements) | ${(totalMs / 1000).toFixed(2)} |`);
    out('');
  } finally {
    await ledger.close().catch(() => {});
    if (ds.isInitialized) await ds.destroy().catch(() => {});
    if (!keep) await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`).catch(() => {});
    else note(`kept database ${DATABASE}`);
    await admin.end().catch(() => {});
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
