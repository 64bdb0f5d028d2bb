// The executor's side of the broker against the real broker and both real ledgers: a delivered run message leads to
// the ledger's compare-and-set pending → running and is acked after it; a message for a run that is no longer
// pending is acked and dropped, starting nothing; a message that names no run, or is no message, is dead-lettered.
// Only the task launcher (what would spawn the shell) is a fake; every service around it is the real one.
import amqplib, { ChannelModel, ConsumeMessage } from 'amqplib';
import { DataSource } from 'typeorm';
import { SecretBox } from '@app/common';
import type { AppConfig } from '@app/config';
import { NoopRegistration } from '@app/discovery';
import {
  dataSourceOptions,
  JobsRepository,
  migrate,
  NewJob,
  NewRun,
  ParentRunsRepository,
  RunBatchRepository,
  RunEntity,
  RunLinksRepository,
  RunsRepository,
  SettingsRepository,
} from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { pendingRun as ledgerPendingRun, shellJob } from '../../../../test/support/ledger-rows';
import { brokerEnv, deleteBrokerQueues, testServices } from '../../../../test/support/services';
import { waitFor } from '../../../../test/support/wait';
import { ActiveRuns } from '../tasks/active-runs';
import { JobCache } from '../tasks/job-cache';
import { LedgerWatch } from '../tasks/ledger-watch.service';
import { ParentContexts } from '../tasks/parent-contexts';
import { Presence } from '../tasks/presence.service';
import { SecretOpener } from '../tasks/secret-opener';
import type { Launch, TaskLauncher } from '../tasks/task-launcher';
import { TasksService } from '../tasks/tasks.service';
import { BrokerConsumer } from './broker-consumer.service';

const T = Date.now() - 60_000;
const GROUP = 'batch';
const EXECUTOR = 'exec-int';
const WAIT = { timeoutMs: 10_000, intervalMs: 50 };

const job = (name: string, group = GROUP): NewJob => shellJob(name, group, T);

const pendingRun = (jobId: number, tickKey: string): NewRun =>
  ledgerPendingRun(jobId, tickKey, T, { trigger: 'manual', deadlineAt: T + 3_600_000 });

const runMessage = (r: RunEntity) =>
  Buffer.from(
    JSON.stringify({ v: 1, kind: 'run', runId: r.id, jobId: r.jobId, tickKey: r.tickKey, attempt: r.attempt }),
  );

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'BrokerConsumer on $dialect.name and the real broker',
  ({ dialect }) => {
    const prefix = brokerEnv(`consume-${dialect.name}`).GOCRON_RABBITMQ_PREFIX;
    const url = testServices().amqpUrl;
    const runsQueue = `${prefix}.runs.${GROUP}`;
    const deadQueue = `${prefix}.dead`;
    const config = {
      executor: { id: EXECUTOR, group: GROUP, capacity: 4, advertise: '127.0.0.1:1', drainTimeoutSeconds: 1 },
      rabbitmq: { url, groups: [GROUP], prefix },
    } as unknown as AppConfig;
    const box = new SecretBox(Buffer.alloc(32, 7));
    let ds: DataSource;
    let runs: RunsRepository;
    let batch: RunBatchRepository;
    let jobs: JobsRepository;
    /** The test's own connection to the broker, beside the consumer's. */
    let conn: ChannelModel;

    /** One executor's broker side, as the executor module wires it; the launcher records instead of spawning. */
    let executor: {
      consumer: BrokerConsumer;
      ledger: LedgerWatch;
      presence: Presence;
      active: ActiveRuns;
      launched: Launch[];
      /** Every ack / dead-letter / requeue the consumer sent, with the message it was for. */
      settled: { how: string; content: string }[];
    } | null = null;

    /** A channel per question: the broker closes the channel a missing queue was asked on (a 404). */
    async function queue(name: string): Promise<{ ready: number; consumers: number }> {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      const q = await ch.checkQueue(name);
      await ch.close();
      return { ready: q.messageCount, consumers: q.consumerCount };
    }

    async function startExecutor(): Promise<NonNullable<typeof executor>> {
      const active = new ActiveRuns();
      const ledger = new LedgerWatch(config, runs, jobs, active, ds, new SettingsRepository(ds), box);
      const presence = new Presence(config, new NoopRegistration(), active, ledger);
      const launched: Launch[] = [];
      const launcher = { launchPaced: (q: Launch[]) => launched.push(...q) } as unknown as TaskLauncher;
      const tasks = new TasksService(
        config,
        batch,
        new JobCache(jobs),
        active,
        launcher,
        presence,
        ledger,
        new SecretOpener(box),
        new ParentContexts(new RunLinksRepository(ds), new ParentRunsRepository(ds)),
      );
      const consumer = new BrokerConsumer(config, runs, tasks, active, ledger, presence);
      const settled: { how: string; content: string }[] = [];
      const spied = consumer as unknown as { settle: (d: { msg: ConsumeMessage }, how: string) => void };
      const settle = spied.settle.bind(consumer);
      jest.spyOn(spied, 'settle').mockImplementation((d, how) => {
        settled.push({ how, content: d.msg.content.toString('utf8') });
        settle(d, how);
      });
      ledger.onModuleInit();
      consumer.onApplicationBootstrap();
      await presence.register(); // static discovery: listed once registered, and only then consuming
      executor = { consumer, ledger, presence, active, launched, settled };
      await waitFor(async () => (await queue(runsQueue)).consumers === 1, { ...WAIT, what: 'the executor consumes' });
      return executor;
    }

    /**
     * Stops the executor's consumer and waits until the broker has let go of it: a delivery it had not acked would be
     * ready in the queue again by then.
     */
    async function stopExecutor(): Promise<void> {
      if (!executor) return;
      await executor.consumer.beforeApplicationShutdown();
      executor.ledger.onApplicationShutdown();
      executor.presence.onApplicationShutdown();
      executor = null;
      await waitFor(async () => (await queue(runsQueue)).consumers === 0, { ...WAIT, what: 'the consumer is gone' });
    }

    async function publish(...contents: Buffer[]): Promise<void> {
      const ch = await conn.createConfirmChannel();
      try {
        for (const c of contents) ch.sendToQueue(runsQueue, c, { persistent: true });
        await ch.waitForConfirms();
      } finally {
        await ch.close();
      }
    }

    async function claim(jobId: number, tickKey: string): Promise<RunEntity> {
      const [id] = await batch.claimMany([pendingRun(jobId, tickKey)]);
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
    });

    afterEach(async () => {
      await stopExecutor();
      jest.restoreAllMocks();
      for (const name of [runsQueue, deadQueue]) {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        await ch.purgeQueue(name).then(
          () => ch.close(),
          () => undefined, // not declared yet: nothing to purge, and the broker closed the channel
        );
      }
    });

    afterAll(async () => {
      await deleteBrokerQueues(prefix, { groups: [GROUP], executors: [EXECUTOR] }).catch(() => undefined);
      await conn?.close().catch(() => undefined);
      await ds?.destroy();
      await dialect.cleanup();
    });

    it('starts a delivered pending run through the compare-and-set, then acks the message', async () => {
      const e = await startExecutor();
      const j = await jobs.create(job('start'));
      const run = await claim(j.id, 'tick-1');

      await publish(runMessage(run));

      const row = await waitFor(
        async () => {
          const r = await runs.findById(run.id);
          return r?.status === 'running' && r;
        },
        { ...WAIT, what: 'the run is running' },
      );
      expect(row).toMatchObject({ status: 'running', executorId: EXECUTOR });
      await waitFor(() => e.settled.length === 1, { ...WAIT, what: 'the message is settled' });
      expect(e.settled).toEqual([{ how: 'ack', content: runMessage(run).toString('utf8') }]);
      // The launch follows the start on a later turn (TasksService paces launches).
      await waitFor(() => e.launched.length > 0, { ...WAIT, what: 'the task is launched' });
      expect(e.launched.map((l) => l.run.id)).toEqual([run.id]);
      expect(e.active.has(run.id)).toBe(true);

      await stopExecutor();
      // Acked: the broker did not hand it back when the consumer went, and nothing was dead-lettered.
      expect(await queue(runsQueue)).toEqual({ ready: 0, consumers: 0 });
      expect((await queue(deadQueue)).ready).toBe(0);
    });

    it('acks and drops a message for a run already running elsewhere or ended, starting nothing', async () => {
      const e = await startExecutor();
      const j = await jobs.create(job('again'));
      const elsewhere = await claim(j.id, 'tick-1');
      const ended = await claim(j.id, 'tick-2');
      const keyOf = (r: RunEntity) => ({
        id: r.id,
        jobId: r.jobId,
        tickKey: r.tickKey,
        attempt: r.attempt,
        executorKey: r.executorKey,
        scheduledAt: r.scheduledAt,
      });
      const took = await batch.markRunningMany([keyOf(elsewhere), keyOf(ended)], 'other-exec', '127.0.0.1:2');
      expect(took.started.size).toBe(2);
      expect(await runs.finish(ended.id, { status: 'succeeded', finishedAt: Date.now(), exitCode: 0 })).toBe(true);
      const before = [await runs.findById(elsewhere.id), await runs.findById(ended.id)];

      // As a redelivery (or the republish of a run whose confirm was lost) brings them.
      await publish(runMessage(elsewhere), runMessage(ended));

      await waitFor(() => e.settled.length === 2, { ...WAIT, what: 'both messages are settled' });
      expect(e.settled.map((s) => s.how)).toEqual(['ack', 'ack']);
      expect(e.launched).toEqual([]);
      expect(e.active.size).toBe(0);
      expect([await runs.findById(elsewhere.id), await runs.findById(ended.id)]).toEqual(before);

      await stopExecutor();
      expect(await queue(runsQueue)).toEqual({ ready: 0, consumers: 0 });
      expect((await queue(deadQueue)).ready).toBe(0);
    });

    it('acks and drops a message for a run whose job moved to another group, leaving it pending for that group', async () => {
      const e = await startExecutor();
      const j = await jobs.create(job('moved', 'elsewhere'));
      const run = await claim(j.id, 'tick-1');

      await publish(runMessage(run));

      await waitFor(() => e.settled.length === 1, { ...WAIT, what: 'the message is settled' });
      expect(e.settled.map((s) => s.how)).toEqual(['ack']);
      expect(e.launched).toEqual([]);
      expect(e.active.size).toBe(0);
      expect((await runs.findById(run.id))!.status).toBe('pending');

      await stopExecutor();
      expect(await queue(runsQueue)).toEqual({ ready: 0, consumers: 0 });
      expect((await queue(deadQueue)).ready).toBe(0);
    });

    it('dead-letters a message that is not a message, and one naming a run that does not exist', async () => {
      const e = await startExecutor();
      const j = await jobs.create(job('ghost'));
      const ghost = { id: 987_654, jobId: j.id, tickKey: 'nope', attempt: 1 } as RunEntity;

      await publish(Buffer.from('not json at all'), runMessage(ghost));

      await waitFor(async () => (await queue(deadQueue)).ready === 2, { ...WAIT, what: 'two dead letters' });
      expect(e.settled.map((s) => s.how)).toEqual(['dead', 'dead']);
      expect(e.launched).toEqual([]);
      const ch = await conn.createChannel();
      try {
        const got: { content: string; reason: unknown; queue: unknown }[] = [];
        for (let i = 0; i < 2; i++) {
          const msg = await ch.get(deadQueue, { noAck: true });
          if (msg === false) throw new Error('the dead-letter queue is short of a message');
          const [death] = (msg.properties.headers?.['x-death'] ?? []) as { reason?: unknown; queue?: unknown }[];
          got.push({ content: msg.content.toString('utf8'), reason: death?.reason, queue: death?.queue });
        }
        expect(got.sort((a, b) => a.content.localeCompare(b.content))).toEqual(
          [
            { content: 'not json at all', reason: 'rejected', queue: runsQueue },
            { content: runMessage(ghost).toString('utf8'), reason: 'rejected', queue: runsQueue },
          ].sort((a, b) => a.content.localeCompare(b.content)),
        );
      } finally {
        await ch.close();
      }
      expect((await queue(runsQueue)).ready).toBe(0);
    });
  },
);
