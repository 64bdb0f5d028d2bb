// Publish with confirms against the real broker and both real ledgers: a run gets `queued_at` only once the broker
// confirmed its message into the group's queue, the message is the run's ledger key and nothing more, and a message
// the broker could not route (or no broker at all) leaves the run unqueued for the pending pass.
import amqplib, { ChannelModel } from 'amqplib';
import { DataSource } from 'typeorm';
import type { AppConfig } from '@app/config';
import { StaticExecutorDirectory } from '@app/discovery';
import {
  ApiReads,
  dataSourceOptions,
  JobEntity,
  JobGraphRepository,
  JobsRepository,
  migrate,
  NewJob,
  NewRun,
  RunBatchRepository,
  RunEntity,
  RunLinksRepository,
  RunsRepository,
} from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { pendingRun as ledgerPendingRun, shellJob } from '../../../../test/support/ledger-rows';
import { brokerEnv, deleteBrokerQueues, freePort, testServices } from '../../../../test/support/services';
import { waitFor } from '../../../../test/support/wait';
import { SecretBox } from '@app/common';
import type { EventsService } from '../events/events.service';
import { ExecutorChannels } from '../executor-client/executor-channels';
import { plaintextLink } from '../executor-client/executor-link';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { JobsService } from '../jobs/jobs.service';
import { RunCanceller } from '../launching/run-canceller.service';
import { RunLauncher } from '../launching/run-launcher.service';
import type { SchedulerService } from '../scheduling/scheduler.service';
import { BrokerPendingRuns } from './broker-pending.service';
import { BrokerPublisher } from './broker-publisher.service';
import { BrokerRuns } from './broker-runs.service';

const T = Date.now() - 60_000;
const GROUPS = ['batch', 'lost', 'fresh', 'moved'];

const job = (name: string, group: string): NewJob => shellJob(name, group, T);

const pendingRun = (jobId: number, tickKey: string): NewRun =>
  ledgerPendingRun(jobId, tickKey, T, { trigger: 'manual', deadlineAt: T + 3_600_000 });

function brokerConfig(prefix: string, url: string): AppConfig {
  return { dispatcher: { id: 'd-int' }, rabbitmq: { url, groups: ['*'], prefix } } as unknown as AppConfig;
}

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'BrokerRuns.publish on $dialect.name and the real broker',
  ({ dialect }) => {
    const prefix = brokerEnv(`publish-${dialect.name}`).GOCRON_RABBITMQ_PREFIX;
    const url = testServices().amqpUrl;
    let ds: DataSource;
    let runs: RunsRepository;
    let batch: RunBatchRepository;
    let jobs: JobsRepository;
    let publisher: BrokerPublisher;
    let brokerRuns: BrokerRuns;
    let pool: ExecutorPool;
    let pendingPass: BrokerPendingRuns;
    let jobsService: JobsService;
    /** The test's own view of the broker, beside the publisher's connection. */
    let conn: ChannelModel;

    const queueOf = (group: string) => `${prefix}.runs.${group}`;
    /** Ready messages of a queue (a channel per question: a missing queue closes the channel it was asked on). */
    async function ready(queue: string): Promise<number | null> {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      try {
        return (await ch.checkQueue(queue)).messageCount;
      } catch {
        return null;
      } finally {
        await ch.close().catch(() => undefined);
      }
    }

    /** A pending run of the job, claimed `ago` ms before now (the pending pass leaves runs younger than FRESH_MS, 10 s, alone). */
    async function claim(jobRow: JobEntity, tickKey: string, ago = 0): Promise<RunEntity> {
      const [id] = await batch.claimMany([pendingRun(jobRow.id, tickKey)], Date.now() - ago);
      return (await runs.findById(id!))!;
    }

    beforeAll(async () => {
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      runs = new RunsRepository(ds);
      batch = new RunBatchRepository(ds);
      jobs = new JobsRepository(ds);
      conn = await amqplib.connect(url);
      const config = brokerConfig(prefix, url);
      publisher = new BrokerPublisher(config);
      publisher.onApplicationBootstrap();
      // No static target: the pool lists no executor, as a dispatcher with only non-broadcast jobs needs.
      const directory = new StaticExecutorDirectory([], () => Promise.reject(new Error('no probe')), {
        intervalMs: 60_000,
      } as never);
      pool = new ExecutorPool(directory, config, new ExecutorChannels(plaintextLink()));
      brokerRuns = new BrokerRuns(publisher, runs, pool);
      // The dispatcher's own path from a PATCH to the pending pass; the scheduler and the event feed are only told.
      const events = { runChanged: jest.fn(), jobChanged: jest.fn() } as unknown as EventsService;
      const launcher = new RunLauncher(config, runs, pool, events, undefined, brokerRuns);
      const canceller = new RunCanceller(runs, pool, events);
      pendingPass = new BrokerPendingRuns(config, publisher, runs, jobs, launcher, canceller);
      jobsService = new JobsService(
        jobs,
        runs,
        new ApiReads(ds),
        { changed: jest.fn(() => Promise.resolve()) } as unknown as SchedulerService,
        launcher,
        canceller,
        events,
        new SecretBox(Buffer.alloc(32, 1)),
        new JobGraphRepository(ds, jobs),
        new RunLinksRepository(ds),
      );
      await waitFor(() => publisher.connected, { timeoutMs: 10_000, what: 'the publisher is connected' });
    });

    afterEach(() => jest.restoreAllMocks());

    afterAll(async () => {
      await publisher?.onApplicationShutdown();
      await deleteBrokerQueues(prefix, { groups: GROUPS }).catch(() => undefined);
      await conn?.close().catch(() => undefined);
      await ds?.destroy();
      await dialect.cleanup();
    });

    it('sets queued_at only once the broker has confirmed, and the message is the run key exactly', async () => {
      const j = await jobs.create(job('confirm', 'batch'));
      const run = await claim(j, 'tick-1');
      expect(run.queuedAt).toBeNull();
      // At the moment the ledger is told, the broker must already hold the message (confirmed, written to disk).
      const seenByBrokerAtMark: (number | null)[] = [];
      const markQueued = runs.markQueued.bind(runs);
      jest.spyOn(runs, 'markQueued').mockImplementation(async (ids, at) => {
        if (ids.length > 0) seenByBrokerAtMark.push(await ready(queueOf('batch')));
        return markQueued(ids, at);
      });
      const before = Date.now();

      expect(await brokerRuns.publish([{ run, job: j }])).toEqual([true]);

      expect(seenByBrokerAtMark).toEqual([1]);
      const row = await runs.findById(run.id);
      expect(row!.status).toBe('pending');
      expect(row!.queuedAt).toBeGreaterThanOrEqual(before - 1000);
      expect(row!.queuedAt).toBeLessThanOrEqual(Date.now());

      const ch = await conn.createChannel();
      try {
        const msg = await ch.get(queueOf('batch'), { noAck: true });
        expect(msg).not.toBe(false);
        if (msg === false) return;
        expect(JSON.parse(msg.content.toString('utf8'))).toStrictEqual({
          v: 1,
          kind: 'run',
          runId: run.id,
          jobId: j.id,
          tickKey: 'tick-1',
          attempt: 1,
        });
        expect(msg.properties.deliveryMode).toBe(2); // persistent
        expect(Number(msg.properties.expiration)).toBeGreaterThan(0); // the time left to the deadline, and more
        expect(await ch.get(queueOf('batch'), { noAck: true })).toBe(false); // one message, not two
      } finally {
        await ch.close();
      }
    });

    it('declares the queue of a group it publishes to for the first time', async () => {
      expect(await ready(queueOf('fresh'))).toBeNull();
      const j = await jobs.create(job('fresh', 'fresh'));
      const run = await claim(j, 'tick-1');

      expect(await brokerRuns.publish([{ run, job: j }])).toEqual([true]);

      expect(await ready(queueOf('fresh'))).toBe(1);
      expect((await runs.findById(run.id))!.queuedAt).not.toBeNull();
    });

    it('leaves the run unqueued when its message reached no queue (the queue was deleted under the publisher)', async () => {
      const j = await jobs.create(job('lost', 'lost'));
      const first = await claim(j, 'tick-1');
      expect(await brokerRuns.publish([{ run: first, job: j }])).toEqual([true]); // declares the queue
      const ch = await conn.createChannel();
      await ch.deleteQueue(queueOf('lost'));
      await ch.close();
      const second = await claim(j, 'tick-2');

      // `mandatory`: the broker returns the message before its confirm, and the publish does not count.
      expect(await brokerRuns.publish([{ run: second, job: j }])).toEqual([false]);

      expect((await runs.findById(second.id))!.queuedAt).toBeNull();
      expect(await ready(queueOf('lost'))).toBeNull(); // nothing declared it again behind the publisher's back
    });

    it('publishes a queued run to the new group on the next pending pass once its job moved there', async () => {
      const j = await jobs.create(job('mover', 'batch'));
      const run = await claim(j, 'tick-1', 15_000);
      expect(await brokerRuns.publish([{ run, job: j }])).toEqual([true]);
      const queuedAt = (await runs.findById(run.id))!.queuedAt;
      expect(queuedAt).not.toBeNull();
      const batchReady = await ready(queueOf('batch'));
      // A broadcast run is queued per executor, not per group: the move leaves it as it is.
      const [broadcastId] = await batch.claimMany([{ ...pendingRun(j.id, 'tick-b'), executorKey: '127.0.0.1:9' }]);
      await runs.markQueued([broadcastId!], queuedAt!);

      // Confirmed a moment ago: the pass publishes it again only after 5 min, and a change of anything but the
      // group keeps it so.
      await jobsService.update(j.id, { description: 'still batch' });
      await pendingPass.pass(Date.now());
      expect((await runs.findById(run.id))!.queuedAt).toBe(queuedAt);
      expect(await ready(queueOf('batch'))).toBe(batchReady);

      await jobsService.update(j.id, { group: 'moved' });
      expect((await runs.findById(run.id))!.queuedAt).toBeNull();
      expect((await runs.findById(broadcastId!))!.queuedAt).toBe(queuedAt);
      await pendingPass.pass(Date.now());

      expect(await ready(queueOf('batch'))).toBe(batchReady); // the old message stays for its executors to drop
      expect((await runs.findById(run.id))!.queuedAt).not.toBeNull();
      const ch = await conn.createChannel();
      try {
        const msg = await ch.get(queueOf('moved'), { noAck: true });
        expect(msg && JSON.parse(msg.content.toString('utf8'))).toMatchObject({ kind: 'run', runId: run.id });
        expect(await ch.get(queueOf('moved'), { noAck: true })).toBe(false);
      } finally {
        await ch.close();
      }
    });

    it('publishes nothing and queues nothing while the broker can not be reached', async () => {
      const down = new BrokerPublisher(brokerConfig(prefix, `amqp://guest:guest@127.0.0.1:${await freePort()}`));
      down.onApplicationBootstrap();
      try {
        const j = await jobs.create(job('down', 'batch'));
        const run = await claim(j, 'tick-1');
        const readyBefore = await ready(queueOf('batch'));

        expect(await new BrokerRuns(down, runs, pool).publish([{ run, job: j }])).toEqual([false]);

        expect((await runs.findById(run.id))!.queuedAt).toBeNull();
        expect(await ready(queueOf('batch'))).toBe(readyBefore);
      } finally {
        await down.onApplicationShutdown();
      }
    });
  },
);
