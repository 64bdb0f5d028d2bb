// Notifications end to end (issue 14, item 2): a dispatcher and an executor as real processes, a local HTTP receiver
// and a local SMTP server. A failing job notifies once per channel (webhook signed, with a delivery id that survives
// a retry after the receiver's 500; Slack-compatible text; email), events inside min_interval fold into one delivery
// that counts them, a missed tick is notified, GET /api/notifications shows the states without any URL, and a
// webhook aimed at the dispatcher's own API or at a denied address fails naming the rule.
import { createHmac } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { SMTPServer } from 'smtp-server';
import { Api, Dispatcher, sqliteEnv, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { freePort } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *';
const SECRET = 'e2e-webhook-secret';
const MIN_INTERVAL_S = 20;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  time: number;
}

interface Notification {
  id: number;
  deliveryId: string;
  jobId: number;
  runId: number;
  event: string;
  channel: string;
  target: string;
  status: string;
  attempts: number;
  folded: number;
  foldedInto: number | null;
  lastError: string | null;
}

describe('notifications', () => {
  let dispatcher: Dispatcher;
  let api: Api;
  let receiver: Server;
  let smtp: SMTPServer;
  let dbPath: string;
  const received: Received[] = [];
  const mails: { from: string; to: string[]; data: string }[] = [];
  const logins: string[] = [];
  /** Paths that answer 500 once, then 200. */
  const failOnce = new Set<string>(['/hook']);
  let base = '';

  const at = (path: string) => received.filter((r) => r.path === path);
  const list = async (query = 'limit=500') =>
    (await api.call<{ items: Notification[]; total: number }>('GET', `/api/notifications?${query}`, undefined, 200))
      .body;
  const rowsOf = async (jobId: number) => (await list()).items.filter((n) => n.jobId === jobId);

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0];
        received.push({ path, headers: req.headers, body, time: Date.now() });
        const fail = failOnce.delete(path);
        res.writeHead(fail ? 500 : 200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      // The dispatcher signs in with smtp_url's user and password (plain, on loopback).
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        logins.push(`${auth.username}:${auth.password}`);
        callback(null, { user: auth.username });
      },
      logger: false,
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (c: Buffer) => (data += c.toString()));
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
          });
          callback();
        });
      },
    });
    const smtpPort = await freePort();
    await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', r));

    const env = await sqliteEnv('notifications');
    dbPath = env.GOCRON_DATABASE_PATH;
    const executorPort = await freePort();
    dispatcher = await startDispatcher(
      {
        ...env,
        GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}`,
        GOCRON_NOTIFY_WEBHOOK_URL: `${base}/hook?token=WEBHOOK-CREDENTIAL`,
        GOCRON_NOTIFY_WEBHOOK_SECRET: SECRET,
        GOCRON_NOTIFY_SLACK_URL: `${base}/slack/T000/B000/SLACK-CREDENTIAL`,
        GOCRON_NOTIFY_SMTP_URL: `smtp://gocron:SMTP-PASSWORD@127.0.0.1:${smtpPort}`,
        GOCRON_NOTIFY_MAIL_FROM: 'gocron@example.com',
        GOCRON_NOTIFY_MAIL_TO: 'ops@example.com',
        GOCRON_NOTIFY_MIN_INTERVAL: String(MIN_INTERVAL_S),
        GOCRON_EXECUTOR_HTTP_DENY: '0.0.0.0/8, 169.254.0.0/16, 127.0.0.2/32',
        GOCRON_DISPATCHER_MISFIRE_THRESHOLD: '1',
        GOCRON_DISPATCHER_MISSED_GRACE: '2',
      },
      'notify-dispatcher',
    );
    await startExecutor(env, 'notify-executor', executorPort);
    api = new Api(dispatcher.base);
  }, 120_000);

  afterAll(async () => {
    await stopAllApps();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
  });

  async function failingRun(name: string, notify: unknown = null): Promise<{ jobId: number; runId: number }> {
    const job = await api.createJob({ name, cron: ONCE_A_YEAR, type: 'shell', command: 'exit 3', notify });
    const runId = await api.trigger(job.id);
    await api.waitForRunStatus(runId, ['failed'], 30_000);
    return { jobId: job.id, runId };
  }

  it('notifies a failure once per channel: signed webhook with a stable delivery id across a retry, Slack, email', async () => {
    const { jobId, runId } = await failingRun('fails-once');

    // The webhook answered 500 first; the retry (10 s back-off, jittered) carries the same delivery id.
    const hooks = await waitFor(() => at('/hook').length >= 2 && at('/hook'), {
      timeoutMs: 60_000,
      what: 'the webhook and its retry',
    });
    expect(hooks).toHaveLength(2);
    const ids = hooks.map((h) => h.headers['x-gocron-delivery']);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[1]).toBe(ids[0]);
    for (const h of hooks) {
      const expected = `sha256=${createHmac('sha256', SECRET).update(h.body).digest('hex')}`;
      expect(h.headers['x-gocron-signature']).toBe(expected);
      expect(h.headers['x-gocron-event']).toBe('failed');
      expect(h.headers['content-type']).toBe('application/json');
    }
    expect(JSON.parse(hooks[1].body)).toMatchObject({
      deliveryId: ids[0],
      event: 'failed',
      job: { id: jobId, name: 'fails-once', group: 'default' },
      run: { id: runId, status: 'failed', attempt: 1, exitCode: 3 },
      folded: 0,
      dispatcherId: 'notify-dispatcher',
    });

    const slack = await waitFor(
      () => at('/slack/T000/B000/SLACK-CREDENTIAL').find((r) => r.body.includes('fails-once')),
      {
        timeoutMs: 30_000,
        what: 'the Slack message',
      },
    );
    const text = (JSON.parse(slack.body) as { text: string }).text;
    expect(text).toContain(`job fails-once (#${jobId}, group default) failed`);
    expect(Object.keys(JSON.parse(slack.body) as object)).toEqual(['text']);

    const mail = await waitFor(() => mails.find((m) => m.data.includes('fails-once')), {
      timeoutMs: 30_000,
      what: 'the email',
    });
    expect(mail.from).toBe('gocron@example.com');
    expect(mail.to).toEqual(['ops@example.com']);
    expect(mail.data).toMatch(/Subject: \[gocron\] fails-once: failed/);
    expect(logins).toContain('gocron:SMTP-PASSWORD');

    const rows = await waitFor(
      async () => {
        const r = await rowsOf(jobId);
        return r.length === 3 && r.every((n) => n.status === 'sent') && r;
      },
      { timeoutMs: 30_000, what: 'three sent rows' },
    );
    const byChannel = Object.fromEntries(rows.map((n) => [n.channel, n]));
    expect(byChannel.webhook).toMatchObject({ attempts: 2, deliveryId: ids[0], event: 'failed', runId, folded: 0 });
    expect(byChannel.webhook.target).toBe(`${base}/***`);
    expect(byChannel.slack.target).toBe(`${base}/***`);
    expect(byChannel.email.target).toBe('o***@example.com');
    // The list never shows a URL's path or query, nor the SMTP password.
    const raw = JSON.stringify(await list());
    expect(raw).not.toMatch(/CREDENTIAL|SMTP-PASSWORD|token=|\/hook|\/slack/);
  });

  it('folds the failures inside min_interval into the next delivery, which counts them', async () => {
    const job = await api.createJob({
      name: 'flapping',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'exit 1',
      notify: { on: ['failed'], webhook: `${base}/fold`, email: [] },
    });
    // Its own webhook and no email; Slack stays [notify]'s, so the Slack deliveries fold the same way.
    const runIds: number[] = [];
    for (let i = 0; i < 3; i++) runIds.push(await api.trigger(job.id));
    for (const id of runIds) await api.waitForRunStatus(id, ['failed'], 30_000);

    const rows = await waitFor(
      async () => {
        const r = (await rowsOf(job.id)).filter((n) => n.channel === 'webhook');
        return r.length === 3 && r.every((n) => n.status === 'sent') && r;
      },
      { timeoutMs: MIN_INTERVAL_S * 1000 + 60_000, what: 'the three failures delivered or folded' },
    );
    const deliveries = at('/fold');
    const folded = deliveries.map((d) => (JSON.parse(d.body) as { folded: number }).folded);
    // Every event is accounted for: each delivery stands for itself and the ones folded into it.
    expect(folded.reduce((a, b) => a + b + 1, 0)).toBe(3);
    expect(deliveries.length).toBeLessThanOrEqual(2);
    expect(folded.some((f) => f > 0)).toBe(true);
    if (deliveries.length === 2) {
      expect(deliveries[1].time - deliveries[0].time).toBeGreaterThanOrEqual(MIN_INTERVAL_S * 1000 - 1000);
    }
    const carriers = rows.filter((n) => n.foldedInto === null);
    expect(carriers).toHaveLength(deliveries.length);
    for (const n of rows.filter((r) => r.foldedInto !== null)) {
      expect(carriers.map((c) => c.id)).toContain(n.foldedInto);
    }
    // The list filters by status.
    const sent = await list('status=sent&limit=500');
    expect(sent.items.every((n) => n.status === 'sent')).toBe(true);
    expect((await api.call('GET', '/api/notifications?status=done')).status).toBe(400);
    expect((await api.call('GET', '/api/notifications?limit=0')).status).toBe(400);
  });

  it("fails a webhook aimed at the dispatcher's own API or at a denied address, naming the rule, not the URL", async () => {
    const own = await failingRun('at-own-api', {
      on: ['failed'],
      webhook: `http://127.0.0.1:${dispatcher.port}/api/health?token=OWN-CREDENTIAL`,
    });
    const denied = await failingRun('at-denied', {
      on: ['failed'],
      webhook: `http://127.0.0.2:${(receiver.address() as AddressInfo).port}/denied?token=DENIED-CREDENTIAL`,
    });
    const failedRow = (jobId: number) =>
      waitFor(async () => (await rowsOf(jobId)).find((n) => n.channel === 'webhook' && n.status === 'failed'), {
        timeoutMs: 40_000,
        what: `job ${jobId}'s webhook fails`,
      });
    const a = await failedRow(own.jobId);
    expect(a.attempts).toBe(1);
    expect(a.lastError).toMatch(new RegExp(`egress refused: 127\\.0\\.0\\.1:${dispatcher.port} is a dispatcher's API`));
    const b = await failedRow(denied.jobId);
    expect(b.lastError).toMatch(/egress refused: 127\.0\.0\.2 is in \[executor\] http_deny \(127\.0\.0\.2\/32\)/);
    for (const n of [a, b]) expect(n.lastError).not.toMatch(/CREDENTIAL|token|\/api\/health|\/denied/);
    expect(at('/denied')).toHaveLength(0);
    // The job shows its webhook masked, its audit entry too.
    const job = (await api.call<{ notify: { webhook: string } }>('GET', `/api/jobs/${own.jobId}`, undefined, 200)).body;
    expect(job.notify.webhook).toBe(`http://127.0.0.1:${dispatcher.port}/***`);
    const audit = await api.call('GET', `/api/audit?jobId=${own.jobId}`, undefined, 200);
    expect(JSON.stringify(audit.body)).not.toMatch(/OWN-CREDENTIAL|api\/health/);
  });

  it('notifies a tick no dispatcher claimed (missed)', async () => {
    const now = Date.now();
    // A job whose scheduler cursor lies far ahead (so no dispatcher claims its ticks) while the watchdog's
    // watermark is now: its ticks from now on go unclaimed, and the watchdog records them missed.
    const db = new Database(dbPath);
    try {
      db.prepare(
        `INSERT INTO jobs (name, description, cron, timezone, type, command, env, http, notify, timeout_ms, retries,
          retry_backoff_ms, concurrency, misfire, group_name, routing, enabled, schedule_set_at, last_tick_at,
          next_run_at, verify_from, version, created_at, updated_at)
         VALUES ('unclaimed', '', '*/5 * * * * *', 'UTC', 'shell', 'true', '{}', NULL, ?, 60000, 0, 1000, 'forbid',
          'skip', 'default', 'round_robin', 1, ?, ?, ?, ?, 1, ?, ?)`,
      ).run(
        JSON.stringify({ on: ['missed'], webhook: `${base}/missed`, email: [] }),
        now,
        now + 86_400_000,
        now + 86_400_000,
        now,
        now,
        now,
      );
    } finally {
      db.close();
    }
    const missed = await waitFor(() => at('/missed')[0], { timeoutMs: 90_000, what: 'a missed-tick webhook' });
    const body = JSON.parse(missed.body) as { event: string; run: { status: string }; job: { name: string } };
    expect(body).toMatchObject({ event: 'missed', run: { status: 'missed' }, job: { name: 'unclaimed' } });
    expect(missed.headers['x-gocron-event']).toBe('missed');
  });
});
