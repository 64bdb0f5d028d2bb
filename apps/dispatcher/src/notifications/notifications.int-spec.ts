// The notification outbox on both real ledgers (issue 14, item 2): each event recorded once whoever plans it, a
// failure notified on its final attempt only, one deliverer of two delivering a row (and another after a lease runs
// out, with the same delivery id), a retry after a receiver's 500, folding inside min_interval.
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { EgressPolicy } from '@app/common';
import type { NotifyConfig } from '@app/config';
import {
  dataSourceOptions,
  JobsRepository,
  migrate,
  NewJob,
  NotificationRow,
  NotificationsRepository,
  RunStatus,
} from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { waitFor } from '../../../../test/support/wait';
import { ChannelSender, ChannelSenders, DeliveryError, WebhookSender } from './channel-senders';
import { Delivery, signature } from './notification-body';
import { LEASE_MS, NotificationDeliverer } from './notification-deliverer';
import { NotificationPlanner } from './notification-planner';

const NOW = Date.parse('2026-11-01T12:00:00Z');

const DEFAULTS: NotifyConfig = {
  on: ['failed', 'timed_out', 'lost', 'missed', 'recovered'],
  webhookUrl: 'http://127.0.0.1:9/hook?token=SECRET',
  webhookSecret: 'k',
  slackUrl: 'https://hooks.slack.example/services/T/B/SECRET',
  smtpUrl: '',
  mailFrom: '',
  mailTo: [],
  minIntervalSeconds: 0,
};

function job(name: string, over: Partial<NewJob> = {}): NewJob {
  return {
    name,
    description: '',
    cron: '0 0 1 1 *',
    timezone: 'UTC',
    type: 'shell',
    command: 'false',
    env: {},
    http: null,
    timeoutMs: 5000,
    retries: 0,
    retryBackoffMs: 1000,
    concurrency: 'allow',
    misfire: 'skip',
    group: 'default',
    routing: 'round_robin',
    enabled: true,
    scheduleSetAt: NOW - 3_600_000,
    lastTickAt: 0,
    nextRunAt: null,
    ...over,
  };
}

interface Row {
  jobId: number;
  tickKey: string;
  attempt?: number;
  status: RunStatus;
  endedAt: number;
  started?: boolean;
}

/** A sender that records what it was given, and answers as told. */
class Recorder implements ChannelSender {
  readonly sent: Delivery[] = [];
  gate: Promise<void> = Promise.resolve();
  fail: DeliveryError | null = null;
  async send(d: Delivery): Promise<void> {
    this.sent.push(d);
    await this.gate;
    if (this.fail) throw this.fail;
  }
}

const senders = (r: ChannelSender): ChannelSenders => ({ webhook: r, slack: r, email: r });

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'notifications on $dialect.name',
  ({ dialect }) => {
    let ds: DataSource;
    let jobs: JobsRepository;
    let outbox: NotificationsRepository;

    async function insert(rows: Row[]): Promise<number[]> {
      const ids: number[] = [];
      for (const r of rows) {
        const scheduledAt = r.endedAt - 10_000;
        const started = r.started === false ? null : scheduledAt + 10;
        await ds.query(
          'INSERT INTO runs (job_id, tick_key, attempt, executor_key, scheduled_at, `trigger`, status, not_before, ' +
            'deadline_at, started_at, finished_at, duration_ms, exit_code, error, output_truncated, created_at, ' +
            "updated_at) VALUES (?, ?, ?, '', ?, 'schedule', ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
          [
            r.jobId,
            r.tickKey,
            r.attempt ?? 1,
            scheduledAt,
            r.status,
            scheduledAt,
            scheduledAt + 5000,
            started,
            r.endedAt,
            started === null ? null : r.endedAt - started,
            r.status === 'failed' ? 1 : 0,
            r.status === 'succeeded' ? null : `it ${r.status}`,
            scheduledAt,
            r.endedAt,
          ],
        );
        const [row] = await ds.query<{ id: number | string }[]>(
          'SELECT id FROM runs WHERE job_id = ? AND tick_key = ? AND attempt = ?',
          [r.jobId, r.tickKey, r.attempt ?? 1],
        );
        ids.push(Number(row.id));
      }
      return ids;
    }

    const rows = async (): Promise<NotificationRow[]> => {
      const ids = await ds.query<{ id: number | string }[]>('SELECT id FROM notifications ORDER BY id');
      return Promise.all(ids.map(async (r) => (await outbox.findById(Number(r.id)))!));
    };

    beforeAll(async () => {
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      jobs = new JobsRepository(ds);
      outbox = new NotificationsRepository(ds);
    });

    beforeEach(async () => {
      for (const table of ['notifications', 'notification_gates', 'runs', 'jobs'])
        await ds.query(`DELETE FROM ${table}`);
    });

    afterAll(async () => {
      await ds?.destroy();
      await dialect.cleanup();
    });

    it('records each event once per channel under two planners running at once, and again after a restart', async () => {
      const j = await jobs.create(job('two-planners'), NOW - 3_600_000);
      const [failed, recovered] = await insert([
        { jobId: j.id, tickKey: 't1', status: 'failed', endedAt: NOW - 40_000 },
        { jobId: j.id, tickKey: 't2', status: 'succeeded', endedAt: NOW - 30_000 },
        { jobId: j.id, tickKey: 't3', status: 'succeeded', endedAt: NOW - 20_000 },
      ]);
      const a = new NotificationPlanner(outbox, jobs, DEFAULTS, NOW - 60_000);
      const b = new NotificationPlanner(outbox, jobs, DEFAULTS, NOW - 60_000);
      await Promise.all([a.pass(NOW), b.pass(NOW), a.pass(NOW), b.pass(NOW)]);
      await new NotificationPlanner(outbox, jobs, DEFAULTS, NOW - 60_000).pass(NOW);

      const got = await rows();
      // failed and recovered, each on webhook and slack; the second success follows a success: nothing.
      expect(got.map((n) => [n.runId, n.event, n.channel, n.status]).sort()).toEqual(
        [
          [failed, 'failed', 'slack', 'pending'],
          [failed, 'failed', 'webhook', 'pending'],
          [recovered, 'recovered', 'slack', 'pending'],
          [recovered, 'recovered', 'webhook', 'pending'],
        ].sort(),
      );
      expect(new Set(got.map((n) => n.deliveryId)).size).toBe(4);
      const facts = JSON.parse(got.find((n) => n.event === 'failed')!.payload) as Delivery['facts'];
      expect(facts).toMatchObject({
        event: 'failed',
        job: { id: j.id, name: 'two-planners', group: 'default' },
        run: { id: failed, status: 'failed', attempt: 1, exitCode: 1, error: 'it failed' },
      });
    });

    it('notifies a failure on its final attempt only', async () => {
      const j = await jobs.create(job('retried', { retries: 1 }), NOW - 3_600_000);
      const [first, owed, last, never] = await insert([
        // attempt 1 failed, its retry exists: not final
        { jobId: j.id, tickKey: 'a', attempt: 1, status: 'failed', endedAt: NOW - 50_000 },
        // attempt 1 failed with a retry owed (no next attempt yet, retries left): not final either
        { jobId: j.id, tickKey: 'b', attempt: 1, status: 'timed_out', endedAt: NOW - 45_000 },
        // the retry of `a` failed: attempts are spent
        { jobId: j.id, tickKey: 'a', attempt: 2, status: 'failed', endedAt: NOW - 40_000 },
        // failed before it started (expired pending): never retried, so final
        { jobId: j.id, tickKey: 'c', attempt: 1, status: 'lost', endedAt: NOW - 30_000, started: false },
      ]);
      await new NotificationPlanner(outbox, jobs, { ...DEFAULTS, slackUrl: '' }, NOW - 60_000).pass(NOW);
      const got = (await rows()).map((n) => [n.runId, n.event]);
      expect(got).toEqual([
        [last, 'failed'],
        [never, 'lost'],
      ]);
      expect(got.flat()).not.toContain(first);
      expect(got.flat()).not.toContain(owed);
    });

    it("follows a job's own notify: its events, its channels, the rest from [notify]", async () => {
      const quiet = await jobs.create(job('quiet', { notify: { on: [] } }), NOW - 3_600_000);
      const chatty = await jobs.create(
        job('chatty', { notify: { on: ['succeeded'], webhook: 'http://127.0.0.1:9/own' } }),
        NOW - 3_600_000,
      );
      await insert([
        { jobId: quiet.id, tickKey: 'q', status: 'failed', endedAt: NOW - 30_000 },
        { jobId: chatty.id, tickKey: 'c', status: 'succeeded', endedAt: NOW - 30_000 },
      ]);
      await new NotificationPlanner(outbox, jobs, DEFAULTS, NOW - 60_000).pass(NOW);
      const got = await rows();
      expect(got.map((n) => [n.jobId, n.event, n.channel, n.target]).sort()).toEqual(
        [
          [chatty.id, 'succeeded', 'slack', DEFAULTS.slackUrl],
          [chatty.id, 'succeeded', 'webhook', 'http://127.0.0.1:9/own'],
        ].sort(),
      );
    });

    async function oneRow(over: Partial<Row> = {}): Promise<NotificationRow> {
      const j = await jobs.create(job(`one-${Math.random()}`), NOW - 3_600_000);
      await insert([{ jobId: j.id, tickKey: 't', status: 'failed', endedAt: NOW - 30_000, ...over }]);
      await new NotificationPlanner(outbox, jobs, { ...DEFAULTS, slackUrl: '' }, NOW - 60_000).pass(NOW);
      return (await rows()).at(-1)!;
    }

    it('lets one deliverer of two deliver a row; after a lease runs out, another delivers it with the same id', async () => {
      const row = await oneRow();
      const sender = new Recorder();
      let release!: () => void;
      sender.gate = new Promise((r) => (release = r));
      const d1 = new NotificationDeliverer(outbox, senders(sender), 0, 'd1');
      const d2 = new NotificationDeliverer(outbox, senders(sender), 0, 'd2');
      const both = Promise.all([d1.deliver(row.id, NOW), d2.deliver(row.id, NOW)]);
      // One of them is sending (held at the gate); the other has lost the claim by then.
      await waitFor(() => sender.sent.length === 1, { timeoutMs: 10_000, what: 'one delivery under way' });
      release();
      expect((await both).sort()).toEqual(['lost', 'sent']);
      expect(sender.sent).toHaveLength(1);
      expect((await outbox.findById(row.id))!).toMatchObject({ status: 'sent', attempts: 1, leaseOwner: null });

      // A dispatcher that took a row and died (its lease stays): nobody else takes it before the lease runs out.
      const other = await oneRow({ tickKey: 'u' });
      const dead = await outbox.claim(other.id, 'dead:1', NOW, LEASE_MS);
      expect(dead).not.toBeNull();
      expect(await d2.deliver(other.id, NOW + LEASE_MS - 1)).toBe('lost');
      expect(await d2.deliver(other.id, NOW + LEASE_MS + 1)).toBe('sent');
      expect(sender.sent.at(-1)!.deliveryId).toBe(other.deliveryId);
      // The dead owner's late writes change nothing.
      expect(await outbox.markFailed(dead!, 'late', NOW + LEASE_MS + 2)).toBe(false);
      expect((await outbox.findById(other.id))!.status).toBe('sent');
    });

    describe('against a receiver', () => {
      let server: Server;
      let port: number;
      const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
      let answers: number[] = [];

      beforeAll(async () => {
        server = createServer((req, res) => {
          let body = '';
          req.on('data', (c: Buffer) => (body += c.toString()));
          req.on('end', () => {
            seen.push({ headers: req.headers, body });
            res.statusCode = answers.shift() ?? 200;
            res.end();
          });
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        port = (server.address() as AddressInfo).port;
      });

      afterAll(() => new Promise<void>((r) => server.close(() => r())));

      it('retries after a 500 with the same delivery id and a valid signature, then sends', async () => {
        seen.length = 0;
        answers = [500, 200];
        const j = await jobs.create(job('receiver'), NOW - 3_600_000);
        await insert([{ jobId: j.id, tickKey: 't', status: 'failed', endedAt: NOW - 30_000 }]);
        const url = `http://127.0.0.1:${port}/hook?token=SECRET`;
        await new NotificationPlanner(outbox, jobs, { ...DEFAULTS, slackUrl: '', webhookUrl: url }, NOW - 60_000).pass(
          NOW,
        );
        const [row] = await rows();
        const webhook = new WebhookSender(new EgressPolicy([], []), 'k', 'disp-1');
        const d = new NotificationDeliverer(outbox, { ...senders(new Recorder()), webhook }, 0, 'disp-1');

        expect(await d.deliver(row.id, NOW)).toBe('retried');
        const retrying = (await outbox.findById(row.id))!;
        expect(retrying).toMatchObject({ status: 'pending', attempts: 1, leaseOwner: null });
        expect(retrying.lastError).toBe('attempt 1: HTTP 500 from the receiver');
        expect(retrying.nextAttemptAt).toBeGreaterThan(Date.now());
        // Not due yet: nobody takes it before its back-off.
        expect(await d.deliver(row.id, Date.now())).toBe('lost');

        expect(await d.deliver(row.id, retrying.nextAttemptAt)).toBe('sent');
        expect((await outbox.findById(row.id))!).toMatchObject({ status: 'sent', attempts: 2 });
        expect(seen).toHaveLength(2);
        for (const s of seen) {
          expect(s.headers['x-gocron-delivery']).toBe(row.deliveryId);
          expect(s.headers['x-gocron-event']).toBe('failed');
          expect(s.headers['x-gocron-signature']).toBe(signature('k', s.body));
        }
        expect(JSON.parse(seen[1].body)).toMatchObject({
          deliveryId: row.deliveryId,
          event: 'failed',
          job: { id: j.id, name: 'receiver', group: 'default' },
          folded: 0,
          dispatcherId: 'disp-1',
        });
      });

      it('fails at once, naming the rule and not the URL, when the egress check refuses the receiver', async () => {
        const j = await jobs.create(job('refused'), NOW - 3_600_000);
        await insert([{ jobId: j.id, tickKey: 't', status: 'failed', endedAt: NOW - 30_000 }]);
        const url = `http://127.0.0.1:${port}/hook?token=SECRET`;
        await new NotificationPlanner(outbox, jobs, { ...DEFAULTS, slackUrl: '', webhookUrl: url }, NOW - 60_000).pass(
          NOW,
        );
        const [row] = await rows();
        seen.length = 0;
        const webhook = new WebhookSender(new EgressPolicy([], ['127.0.0.0/8']), 'k', 'disp-1');
        const d = new NotificationDeliverer(outbox, { ...senders(new Recorder()), webhook }, 0, 'disp-1');
        expect(await d.deliver(row.id, NOW)).toBe('failed');
        const failed = (await outbox.findById(row.id))!;
        expect(failed.status).toBe('failed');
        expect(failed.lastError).toBe('attempt 1: egress refused: 127.0.0.1 is in [executor] http_deny (127.0.0.0/8)');
        expect(failed.lastError).not.toMatch(/SECRET|hook|token/);
        expect(seen).toHaveLength(0);
      });
    });

    it('folds the events inside min_interval into the next delivery, which carries their count', async () => {
      const j = await jobs.create(job('flapping'), NOW - 3_600_000);
      await insert([
        { jobId: j.id, tickKey: 't1', status: 'failed', endedAt: NOW - 40_000 },
        { jobId: j.id, tickKey: 't2', status: 'failed', endedAt: NOW - 20_000 },
        { jobId: j.id, tickKey: 't3', status: 'failed', endedAt: NOW - 15_000 },
      ]);
      const planner = new NotificationPlanner(outbox, jobs, { ...DEFAULTS, slackUrl: '' }, NOW - 60_000);
      // The first failure is recorded and delivered before the other two happen.
      await planner.pass(NOW - 25_000);
      const [r1] = await rows();
      const sender = new Recorder();
      const d = new NotificationDeliverer(outbox, senders(sender), 300_000, 'd1');
      expect(await d.deliver(r1.id, NOW)).toBe('sent');
      await planner.pass(NOW);
      const [, r2, r3] = await rows();

      expect(await d.deliver(r2.id, NOW + 1000)).toBe('postponed');
      expect(await d.deliver(r3.id, NOW + 2000)).toBe('postponed');
      expect((await outbox.findById(r2.id))!).toMatchObject({ status: 'pending', attempts: 0 });
      expect((await outbox.findById(r2.id))!.nextAttemptAt).toBe(NOW + 300_000);
      expect(await d.deliver(r2.id, NOW + 299_999)).toBe('lost');

      // Both due when the interval ends; the first through folds the other.
      expect(await d.deliver(r2.id, NOW + 300_000)).toBe('sent');
      expect(await d.deliver(r3.id, NOW + 300_000)).toBe('lost');
      expect(sender.sent.map((s) => [s.facts.run.id, s.folded])).toEqual([
        [r1.runId, 0],
        [r2.runId, 1],
      ]);
      expect((await outbox.findById(r2.id))!).toMatchObject({ status: 'sent', folded: 1, foldedInto: null });
      expect((await outbox.findById(r3.id))!).toMatchObject({ status: 'sent', foldedInto: r2.id, attempts: 0 });
    });

    it('folds only events bound for the same target, and settles folded rows a killed deliverer left pending', async () => {
      const j = await jobs.create(job('moved-hook'), NOW - 3_600_000);
      await insert([
        { jobId: j.id, tickKey: 'u1', status: 'failed', endedAt: NOW - 40_000 },
        { jobId: j.id, tickKey: 'u2', status: 'failed', endedAt: NOW - 35_000 },
        { jobId: j.id, tickKey: 'u3', status: 'failed', endedAt: NOW - 30_000 },
      ]);
      await new NotificationPlanner(outbox, jobs, { ...DEFAULTS, slackUrl: '' }, NOW - 60_000).pass(NOW);
      const [r1, r2, r3] = await rows();
      // The job's webhook changed after u2 was recorded: u3 is for another receiver.
      await ds.query(`UPDATE notifications SET target = ? WHERE id = ?`, [
        JSON.stringify({ url: 'https://elsewhere.example.com/hook' }),
        r3.id,
      ]);
      const sender = new Recorder();
      const d = new NotificationDeliverer(outbox, senders(sender), 300_000, 'd1');
      expect(await d.deliver(r1.id, NOW)).toBe('sent');
      expect((await outbox.findById(r2.id))!).toMatchObject({ foldedInto: r1.id, status: 'sent' });
      expect((await outbox.findById(r3.id))!).toMatchObject({ foldedInto: null, status: 'pending' });

      // A dispatcher killed between the delivery's write and the settling of its folded rows.
      await ds.query(`UPDATE notifications SET status = 'pending', sent_at = NULL WHERE id = ?`, [r2.id]);
      expect(await outbox.settleOrphans(NOW + 5000)).toBe(1);
      expect((await outbox.findById(r2.id))!).toMatchObject({ status: 'sent', foldedInto: r1.id });
      expect(await outbox.settleOrphans(NOW + 6000)).toBe(0);
    });

    it('fails the events folded into a delivery that fails, saying so', async () => {
      const j = await jobs.create(job('folded-fail'), NOW - 3_600_000);
      await insert([
        { jobId: j.id, tickKey: 't1', status: 'failed', endedAt: NOW - 40_000 },
        { jobId: j.id, tickKey: 't2', status: 'failed', endedAt: NOW - 35_000 },
      ]);
      await new NotificationPlanner(outbox, jobs, { ...DEFAULTS, slackUrl: '' }, NOW - 60_000).pass(NOW);
      const [r1, r2] = await rows();
      const sender = new Recorder();
      sender.fail = new DeliveryError('egress refused: test', true);
      const d = new NotificationDeliverer(outbox, senders(sender), 300_000, 'd1');
      expect(await d.deliver(r1.id, NOW)).toBe('failed');
      expect((await outbox.findById(r2.id))!).toMatchObject({
        status: 'failed',
        foldedInto: r1.id,
        lastError: `folded into delivery ${r1.id}, which failed: attempt 1: egress refused: test`,
      });
    });
  },
);
