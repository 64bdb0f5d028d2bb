// Ledger retention (issue 14, item 1) in a running dispatcher: its pass runs every [retention] interval and prunes
// a history written straight into its SQLite file, counting what it pruned in /metrics.
import Database from 'better-sqlite3';
import { Api, bearer, Dispatcher, sqliteEnv, startDispatcher } from './support/gocron';
import { httpJson, stopAllApps } from './support/processes';
import { waitFor } from './support/wait';

const DAY = 86_400_000;

describe('retention in a running dispatcher', () => {
  let dispatcher: Dispatcher;
  let db: Database.Database;

  afterAll(async () => {
    db?.close();
    await stopAllApps();
  });

  it('prunes by count, output and age on its interval, and counts it in /metrics', async () => {
    const env = await sqliteEnv('retention');
    dispatcher = await startDispatcher({
      ...env,
      GOCRON_RETENTION_INTERVAL: '1',
      GOCRON_RETENTION_MAX_RUNS_PER_JOB: '50',
      GOCRON_RETENTION_KEEP_OUTPUT_RUNS: '10',
      GOCRON_RETENTION_MAX_AGE_DAYS: '7',
    });
    const api = new Api(dispatcher.base);
    const busy = await api.createJob({ name: 'busy', cron: '0 0 1 1 *', type: 'shell', command: 'true' });
    const quiet = await api.createJob({ name: 'quiet', cron: '0 0 1 1 *', type: 'shell', command: 'true' });

    db = new Database(env.GOCRON_DATABASE_PATH);
    db.pragma('busy_timeout = 5000');
    const insert = db.prepare(
      `INSERT INTO runs (job_id, tick_key, attempt, executor_key, scheduled_at, "trigger", status, not_before, ` +
        `deadline_at, output, output_truncated, created_at, updated_at) VALUES (?, ?, 1, '', ?, 'schedule', ?, ?, ?, 'out', 0, ?, ?)`,
    );
    const hourAgo = Date.now() - 3_600_000;
    db.transaction(() => {
      // busy: 200 finished runs an hour old and one still running among the oldest.
      insert.run(busy.id, 'r0', hourAgo - 1, 'running', hourAgo, hourAgo, hourAgo, hourAgo);
      for (let i = 1; i <= 200; i++)
        insert.run(busy.id, `b${i}`, hourAgo + i, 'succeeded', hourAgo, hourAgo, hourAgo, hourAgo);
      // quiet: three runs of 30 days ago; the newest of them stays as its latest.
      const old = Date.now() - 30 * DAY;
      for (let i = 1; i <= 3; i++) insert.run(quiet.id, `q${i}`, old + i, 'failed', old, old, old + i, old + i);
    })();

    const count = (sql: string, ...args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;
    await waitFor(
      () =>
        count('SELECT COUNT(*) AS n FROM runs WHERE job_id = ?', busy.id) === 51 &&
        count('SELECT COUNT(*) AS n FROM runs WHERE job_id = ?', quiet.id) === 1,
      { timeoutMs: 20_000, what: 'the history pruned to its limits' },
    );
    expect(count(`SELECT COUNT(*) AS n FROM runs WHERE job_id = ? AND status = 'running'`, busy.id)).toBe(1);
    expect(count(`SELECT COUNT(*) AS n FROM runs WHERE job_id = ? AND tick_key = 'q3'`, quiet.id)).toBe(1);
    await waitFor(
      () => count('SELECT COUNT(*) AS n FROM runs WHERE job_id = ? AND output IS NOT NULL', busy.id) === 11,
      {
        timeoutMs: 20_000,
        what: 'outputs beyond the newest 10 cleared (the running run keeps its own)',
      },
    );
    const metrics = await httpJson('GET', `${dispatcher.base}/metrics`, undefined, { headers: bearer() });
    expect(String(metrics.body)).toMatch(/^gocron_runs_pruned_total 152$/m);
    expect(String(metrics.body)).toMatch(/^gocron_run_outputs_pruned_total 40$/m);
  });
});
