// RunsRepository.finishWithRetry on both real dialects (issue 11, item 7): the final status and the next attempt
// are one write. A failure between the two (here the database refusing the retry row, as a crash between two
// autocommit statements would leave it) must not leave a failed run with retries left and no next attempt.
import { DataSource } from 'typeorm';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { dataSourceOptions } from '../data-source-options';
import { migrate } from '../migrator';
import { RunBatchRepository } from './run-batch.repository';
import { NewRun, RetryPolicy, RunsRepository } from './runs.repository';
import { pendingRun } from '../../../../test/support/ledger-rows';

const T = 1_700_000_000_000;
const policy: RetryPolicy = { retries: 2, retryBackoffMs: 1000, timeoutMs: 5000 };

const run = (tickKey: string): NewRun => pendingRun(1, tickKey, T);

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'finishWithRetry on $dialect.name',
  ({ dialect }) => {
    let ds: DataSource;
    let runs: RunsRepository;
    let batch: RunBatchRepository;

    const refuseRetries = () =>
      dialect.name === 'sqlite'
        ? ds.query(
            `CREATE TRIGGER refuse_retries BEFORE INSERT ON runs WHEN NEW."trigger" = 'retry' ` +
              `BEGIN SELECT RAISE(ABORT, 'retry rows refused'); END`,
          )
        : ds.query(
            'CREATE TRIGGER refuse_retries BEFORE INSERT ON runs FOR EACH ROW BEGIN ' +
              "IF NEW.`trigger` = 'retry' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'retry rows refused'; " +
              'END IF; END',
          );
    const acceptRetries = () => ds.query('DROP TRIGGER IF EXISTS refuse_retries');

    async function started(tickKey: string) {
      const r = (await runs.claim(run(tickKey), T))!;
      expect((await batch.markRunningMany([r], 'exec-1', 'a:1', T + 10)).started).toEqual(new Set([r.id]));
      return r;
    }

    const attempts = async (tickKey: string) =>
      (
        await ds.query<{ attempt: number; status: string }[]>(
          'SELECT attempt, status FROM runs WHERE job_id = 1 AND tick_key = ? ORDER BY attempt',
          [tickKey],
        )
      ).map((r) => [Number(r.attempt), r.status]);

    beforeAll(async () => {
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      runs = new RunsRepository(ds);
      batch = new RunBatchRepository(ds);
    });

    afterAll(async () => {
      await ds?.destroy();
      await dialect.cleanup();
    });

    afterEach(acceptRetries);

    it('leaves the run running when its next attempt can not be written, so the result is written again whole', async () => {
      const r = await started('crash');
      await refuseRetries();
      // (Matched by message: the driver's error may come from another test file's realm, not an `instanceof Error`.)
      const refused = await runs
        .finishWithRetry(r, { status: 'failed', finishedAt: T + 100, exitCode: 1 }, policy)
        .then(
          () => 'no error',
          (e: { message?: string }) => String(e.message),
        );
      expect(refused).toMatch(/retry rows refused/);
      // Neither half is there: not a failed run without its retry.
      expect(await attempts('crash')).toEqual([[1, 'running']]);

      await acceptRetries();
      const again = await runs.finishWithRetry(r, { status: 'failed', finishedAt: T + 100, exitCode: 1 }, policy);
      expect(again.finished).toBe(true);
      expect(again.retry).toMatchObject({ attempt: 2, trigger: 'retry', status: 'pending', notBefore: T + 1100 });
      expect(await attempts('crash')).toEqual([
        [1, 'failed'],
        [2, 'pending'],
      ]);
    });

    it('still claims the retry owed when its own earlier write of the result had landed', async () => {
      const r = await started('landed');
      // The result was written (a reply lost, say) but not its retry: the retried call owes it.
      expect(await runs.finish(r.id, { status: 'lost', finishedAt: T + 50 })).toBe(true);
      const { finished, retry } = await runs.finishWithRetry(r, { status: 'lost', finishedAt: T + 50 }, policy);
      expect(finished).toBe(false);
      expect(retry).toMatchObject({ attempt: 2, trigger: 'retry' });
      // A third call finds the retry there: no second one.
      expect((await runs.finishWithRetry(r, { status: 'lost', finishedAt: T + 50 }, policy)).retry).toBeNull();
      expect(await attempts('landed')).toEqual([
        [1, 'lost'],
        [2, 'pending'],
      ]);
    });

    it('writes the result alone when no retry is owed, whatever the database thinks of retry rows', async () => {
      const r = await started('last');
      await refuseRetries();
      const last = { ...r, attempt: policy.retries + 1 };
      expect(await runs.finishWithRetry(last, { status: 'failed', finishedAt: T + 1 }, policy)).toEqual({
        finished: true,
        retry: null,
      });
      expect(await attempts('last')).toEqual([[1, 'failed']]);
    });
  },
);
