// RunCanceller on both real ledgers (issue 11, item 8): a cancel reaches the run in whichever state it is by the
// time the cancel lands, not the one a caller read a moment before (`replace`, DELETE job, POST /runs/:id/cancel).
import { DataSource } from 'typeorm';
import { dataSourceOptions, migrate, NewRun, RunBatchRepository, RunsRepository } from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { EventsService } from '../events/events.service';
import { RunCanceller } from './run-canceller.service';
import { pendingRun } from '../../../../test/support/ledger-rows';

const T = Date.now();

const run = (tickKey: string): NewRun => pendingRun(1, tickKey, T);

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'RunCanceller on $dialect.name',
  ({ dialect }) => {
    let ds: DataSource;
    let runs: RunsRepository;
    let batch: RunBatchRepository;
    /** What the executors were asked to stop, and how each answers: stop the run (as an executor records it) or fail. */
    let asked: { address: string; runId: number; reason: string }[];
    let executorAnswer: (runId: number, reason: string) => Promise<{ cancelled: boolean }>;
    let canceller: RunCanceller;
    const events = { runChanged: jest.fn() } as unknown as EventsService;

    beforeAll(async () => {
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      runs = new RunsRepository(ds);
      batch = new RunBatchRepository(ds);
      const pool = {
        cancel: (address: string, runId: number, reason: string) => {
          asked.push({ address, runId, reason });
          return executorAnswer(runId, reason);
        },
      } as unknown as ExecutorPool;
      canceller = new RunCanceller(runs, pool, events);
    });

    beforeEach(() => {
      asked = [];
      // A reachable executor that has the run stops it and records `cancelled` itself.
      executorAnswer = async (runId, reason) => {
        await runs.finish(runId, { status: 'cancelled', finishedAt: Date.now(), error: reason });
        return { cancelled: true };
      };
    });

    afterAll(async () => {
      await ds?.destroy();
      await dialect.cleanup();
    });

    /** A run as a caller read it while pending, which an executor started right after the read. */
    async function startedAfterRead(tickKey: string) {
      const claimed = (await runs.claim(run(tickKey)))!;
      const read = (await runs.findById(claimed.id))!;
      expect(read.status).toBe('pending');
      await batch.markRunningMany([claimed], 'exec-1', '127.0.0.1:50061');
      return read;
    }

    it('stops on its executor a run read as pending that has just started', async () => {
      const read = await startedAfterRead('started');
      await canceller.cancel(read, 'replaced by the tick of later');
      expect(asked).toEqual([{ address: '127.0.0.1:50061', runId: read.id, reason: 'replaced by the tick of later' }]);
      expect(await runs.findById(read.id)).toMatchObject({
        status: 'cancelled',
        error: 'replaced by the tick of later',
      });
    });

    it('records the cancel in the ledger when the executor that started it can not be reached', async () => {
      const read = await startedAfterRead('unreachable');
      executorAnswer = () => Promise.reject(new Error('14 UNAVAILABLE: connection refused'));
      await canceller.cancel(read, 'job deleted');
      expect(asked.map((a) => a.runId)).toEqual([read.id]);
      // The executor's ledger watch stops the task when it sees this final status.
      expect(await runs.findById(read.id)).toMatchObject({ status: 'cancelled', error: 'job deleted' });
    });

    it('cancels a pending run in the ledger without asking any executor', async () => {
      const claimed = (await runs.claim(run('pending')))!;
      await canceller.cancel(claimed, 'cancelled by request');
      expect(asked).toEqual([]);
      expect(await runs.findById(claimed.id)).toMatchObject({ status: 'cancelled', error: 'cancelled by request' });
    });

    it('leaves a run that ended in the meantime as it ended', async () => {
      const read = await startedAfterRead('ended');
      await runs.finish(read.id, { status: 'succeeded', finishedAt: Date.now(), exitCode: 0 });
      await canceller.cancel(read, 'cancelled by request');
      expect(asked).toEqual([]);
      expect(await runs.findById(read.id)).toMatchObject({ status: 'succeeded', exitCode: 0 });
    });

    it('records the cancel of a run read as running whose executor no longer has it', async () => {
      const read = await startedAfterRead('orphan');
      const running = (await runs.findById(read.id))!;
      executorAnswer = () => Promise.reject(new Error('5 NOT_FOUND: run is not running on executor exec-1'));
      await canceller.cancel(running, 'cancelled by request');
      expect(await runs.findById(read.id)).toMatchObject({ status: 'cancelled', error: 'cancelled by request' });
    });
  },
);
