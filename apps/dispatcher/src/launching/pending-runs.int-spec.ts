// The pending pass on both real ledgers (issue 11): one bad row does not stop the pass (item 2), and a group whose
// runs can not start does not hold back the others' (item 3). The real RunLauncher offers to fake executors.
import { DataSource } from 'typeorm';
import type { AppConfig, DatabaseConfig } from '@app/config';
import type { ExecutorInfo } from '@app/discovery';
import {
  dataSourceOptions,
  JobsRepository,
  migrate,
  NewJob,
  NewRun,
  RunBatchRepository,
  RunsRepository,
} from '@app/persistence';
import type { RunBatchReply, RunRequest } from '@app/protocol';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { pendingRun as ledgerPendingRun, shellJob } from '../../../../test/support/ledger-rows';
import { rowsTouched, withOneConnection } from '../../../../test/support/rows-touched';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import { rankExecutors } from '../executor-client/routing';
import type { EventsService } from '../events/events.service';
import { PendingRuns } from './pending-runs.service';
import { RunCanceller } from './run-canceller.service';
import { ROOM_WAIT_MS, RunLauncher } from './run-launcher.service';

const T = Date.now() - 60_000;

const job = (name: string, group: string, over: Partial<NewJob> = {}): NewJob => shellJob(name, group, T, over);

const pendingRun = (jobId: number, tickKey: string): NewRun =>
  ledgerPendingRun(jobId, tickKey, T, { trigger: 'manual', deadlineAt: T + 3_600_000 });

/** An executor as discovery lists it; `refuses` makes it answer AT_CAPACITY to everything. */
type FakeExecutor = ExecutorInfo & { refuses?: boolean };

const executor = (id: string, group: string, over: Partial<FakeExecutor> = {}): FakeExecutor => ({
  id,
  address: `${id}:50051`,
  group,
  capacity: 10_000,
  running: 0,
  startedAt: new Date(T).toISOString(),
  draining: false,
  ...over,
});

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'PendingRuns on $dialect.name',
  ({ dialect }) => {
    let config: DatabaseConfig;
    let ds: DataSource;
    let runs: RunsRepository;
    let batch: RunBatchRepository;
    let jobs: JobsRepository;
    let pending: PendingRuns;
    let executors: FakeExecutor[];
    /** Every run offered, by executor address, in the order offered, with how long the call let it wait for room. */
    let offered: { address: string; runId: number; waitMs: number }[];
    const events = { runChanged: jest.fn() } as unknown as EventsService;

    const pool = {
      executors: () => executors,
      rank: (group: string, routing: ExecutorInfo['group'], jobId: number) =>
        rankExecutors(
          routing as never,
          jobId,
          executors.filter((e) => e.group === group),
          { next: 0 },
        ),
      onCapacity: () => undefined,
      cancel: () => Promise.resolve({ cancelled: true }),
      /** Starts what it is offered (the executor's compare-and-set) unless it refuses everything. */
      async sendBatch(address: string, reqs: RunRequest[], waitMs = 0): Promise<RunBatchReply> {
        const e = executors.find((x) => x.address === address)!;
        offered.push(...reqs.map((r) => ({ address, runId: Number(r.runId), waitMs })));
        // Under the key the dispatcher sent, as the executor matches it.
        const took = e.refuses
          ? new Set<number>()
          : (
              await batch.markRunningMany(
                reqs.map((r) => ({
                  id: Number(r.runId),
                  jobId: Number(r.jobId),
                  tickKey: r.tickKey,
                  attempt: r.attempt,
                  executorKey: r.executorKey,
                  scheduledAt: Date.parse(r.scheduledAt),
                })),
                e.id,
                address,
              )
            ).started;
        return {
          executorId: e.id,
          outcomes: reqs.map((r) =>
            took.has(Number(r.runId))
              ? { runId: r.runId, accepted: true, code: '', message: '' }
              : { runId: r.runId, accepted: false, code: e.refuses ? 'AT_CAPACITY' : 'NOT_PENDING', message: '' },
          ),
        };
      },
    } as unknown as ExecutorPool;

    const offeredIds = () => new Set(offered.map((o) => o.runId));
    /** The ids of the runs claimed, in the order given (claimMany writes them in ledger-key order). */
    const claimAll = async (list: NewRun[]) => (await batch.claimMany(list)).map((id) => id!);
    const claimAllOldestFirst = async (list: NewRun[]) => (await claimAll(list)).sort((a, b) => a - b);

    beforeAll(async () => {
      config = await dialect.fresh();
      ds = new DataSource(dataSourceOptions(config));
      await ds.initialize();
      await migrate(ds);
      runs = new RunsRepository(ds);
      batch = new RunBatchRepository(ds);
      jobs = new JobsRepository(ds);
      const launcher = new RunLauncher({ dispatcher: { id: 'd1' } } as AppConfig, runs, pool, events);
      const canceller = new RunCanceller(runs, pool, events);
      pending = new PendingRuns(runs, jobs, launcher, canceller, events, pool);
    });

    beforeEach(async () => {
      await ds.query('DELETE FROM runs');
      await ds.query('DELETE FROM jobs');
      offered = [];
    });

    afterAll(async () => {
      await ds?.destroy();
      await dialect.cleanup();
    });

    it('fails a run whose job can not be turned into a request, naming why, and offers the other runs of the pass', async () => {
      executors = [executor('e1', 'live')];
      // Stored as no API would store them: an http job without its request, a routing nobody knows.
      const noSpec = await jobs.create(job('no-spec', 'live', { type: 'http', command: null, http: null }));
      const oddRouting = await jobs.create(job('odd-routing', 'live'));
      await ds.query(`UPDATE jobs SET routing = 'sideways' WHERE id = ?`, [oddRouting.id]);
      const good = await jobs.create(job('good', 'live'));
      const [bad1, bad2, ok] = await claimAll([
        pendingRun(noSpec.id, 'a'),
        pendingRun(oddRouting.id, 'b'),
        pendingRun(good.id, 'c'),
      ]);

      await pending.offer(Date.now());

      expect([...offeredIds()]).toEqual([ok]);
      expect(await runs.findById(ok)).toMatchObject({ status: 'running', executorId: 'e1' });
      const noSpecRun = await runs.findById(bad1);
      expect(noSpecRun).toMatchObject({ status: 'failed', finishedAt: expect.any(Number) });
      expect(noSpecRun!.error).toMatch(/can not be offered: job \d+ is an http job without its http request/);
      const oddRun = await runs.findById(bad2);
      expect(oddRun).toMatchObject({ status: 'failed' });
      expect(oddRun!.error).toMatch(/can not be offered: .*routing 'sideways'/);
    });

    it('offers the runs of a group with executors while 1,100 older runs wait for a group that has none', async () => {
      executors = [executor('e1', 'live')];
      const ghost = await jobs.create(job('ghost', 'ghost'));
      const live = await jobs.create(job('live', 'live'));
      await claimAll(Array.from({ length: 1100 }, (_, i) => pendingRun(ghost.id, `g${i}`)));
      const liveIds = await claimAllOldestFirst([1, 2, 3].map((i) => pendingRun(live.id, `l${i}`)));

      await pending.offer(Date.now());

      expect([...offeredIds()].sort((a, b) => a - b)).toEqual(liveIds);
      for (const id of liveIds) expect((await runs.findById(id))?.status).toBe('running');
    });

    it('shares each pass among groups, bounded: a group whose executors refuse everything holds back no other', async () => {
      executors = [executor('busy-1', 'busy', { refuses: true }), executor('e2', 'live')];
      const busy = await jobs.create(job('busy', 'busy'));
      const live = await jobs.create(job('live', 'live'));
      const gone = await jobs.create(job('gone', 'live'));
      const busyIds = await claimAllOldestFirst(Array.from({ length: 1500 }, (_, i) => pendingRun(busy.id, `b${i}`)));
      const liveIds = await claimAll(Array.from({ length: 5 }, (_, i) => pendingRun(live.id, `l${i}`)));
      const [orphan] = await claimAll([pendingRun(gone.id, 'o')]);
      await ds.query('DELETE FROM jobs WHERE id = ?', [gone.id]);

      await pending.offer(Date.now());

      const ids = offeredIds();
      for (const id of liveIds) expect((await runs.findById(id))?.status).toBe('running');
      // At most 1,000 runs a pass; what the other group left of the pass goes to the busy one, oldest first (the
      // run whose job is gone, read with each group, counts against the pass too).
      expect(ids.size).toBeLessThanOrEqual(1000);
      const busyOffered = busyIds.filter((id) => ids.has(id));
      expect(busyOffered.length).toBeGreaterThanOrEqual(1000 - liveIds.length - 1);
      expect(busyOffered).toEqual(busyIds.slice(0, busyOffered.length));
      // A pending run whose job is gone is cancelled, as before.
      expect(await runs.findById(orphan)).toMatchObject({ status: 'cancelled', error: 'job deleted' });
    });

    it('gives a group alone the whole pass, oldest first', async () => {
      executors = [executor('e1', 'live', { refuses: true })];
      const live = await jobs.create(job('live', 'live'));
      const ids = await claimAllOldestFirst(Array.from({ length: 1200 }, (_, i) => pendingRun(live.id, `l${i}`)));
      await pending.offer(Date.now());
      expect([...offeredIds()].sort((a, b) => a - b)).toEqual(ids.slice(0, 1000));
    });

    it('lets a run wait for room only at the last executor it can go to, not at one before another', async () => {
      executors = [executor('e1', 'live', { refuses: true }), executor('e2', 'live', { refuses: true })];
      const live = await jobs.create(job('live', 'live'));
      const [id] = await claimAll([pendingRun(live.id, 'w1')]);
      await pending.offer(Date.now());
      expect(offered.filter((o) => o.runId === id).map((o) => o.waitMs)).toEqual([0, ROOM_WAIT_MS]);
      executors = [executor('e1', 'live', { refuses: true })];
      offered = [];
      await pending.offer(Date.now());
      expect(offered).toEqual([{ address: executors[0].address, runId: id, waitMs: ROOM_WAIT_MS }]);
    });

    if (dialect.name === 'mysql') {
      it('reads rows bounded by the pending backlog, not by the history', async () => {
        executors = [executor('e1', 'live', { refuses: true })];
        const ghost = await jobs.create(job('ghost', 'ghost'));
        const live = await jobs.create(job('live', 'live'));
        // 20,000 finished runs of history, then the backlog: 300 runs of a group with no executor, 5 of one with.
        const history = Array.from({ length: 20_000 }, (_, i) => ({
          ...pendingRun(live.id, `h${i}`),
          status: 'skipped' as const,
        }));
        for (let i = 0; i < history.length; i += 2000) await batch.claimMany(history.slice(i, i + 2000));
        await claimAll(Array.from({ length: 300 }, (_, i) => pendingRun(ghost.id, `g${i}`)));
        await claimAll(Array.from({ length: 5 }, (_, i) => pendingRun(live.id, `l${i}`)));
        await ds.query('ANALYZE TABLE runs');

        const touched = await withOneConnection(config, (one) =>
          rowsTouched(one, () => new RunsRepository(one).findOfferableFor('live', Date.now(), 0, 1000)),
        );
        expect(touched).toBeLessThan(2 * 305 + 100);
      });
    }
  },
);
