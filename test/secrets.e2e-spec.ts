// Secrets stay secret (issue 13, item 1), end to end: a dispatcher and an executor as real processes on SQLite.
// A job's secretEnv and http.secretHeaders reach the task, and nowhere else: not the API (jobs, runs, audit), not the
// event stream, not a log line of either process, not the stored output, not the database file.
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { Api, Dispatcher, Executor, Job, sqliteEnv, startDispatcher, startExecutor } from './support/gocron';
import { HttpStub, startHttpStub, stopAllApps } from './support/processes';
import { freePort } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *'; // jobs that only run when triggered

// Distinct values, long enough to be masked, unlikely anywhere by chance.
const ENV_SECRET = 'envSecret-7fQ2xK9pLm3vR8';
const HEADER_SECRET = 'Bearer hdrSecret-Zt4Wq1Nc6Ye0';
const SPLIT_SECRET = 'splitSecret-Hb5Ju8Kd2Lp9';
const OLD_HEADER = 'Bearer oldPlain-Vx3Mn7Qa1Rs5';
const REPLACED = 'replaced-Gk8Ty2Wb6Pz4';
const ALL = [ENV_SECRET, HEADER_SECRET.slice(7), SPLIT_SECRET, OLD_HEADER.slice(7), REPLACED];

/** GET /api/events, everything it sends until stop(). */
function recordEvents(base: string, headers: Record<string, string>): { text: () => string; stop: () => void } {
  let text = '';
  const req = request(`${base}/api/events`, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
  req.on('response', (res) => res.on('data', (c: Buffer) => (text += c.toString('utf8'))));
  req.on('error', () => undefined);
  req.end();
  return { text: () => text, stop: () => req.destroy() };
}

/** Every file of the SQLite database (main file, WAL, shared memory) as text. */
function databaseBytes(path: string): string {
  const dir = dirname(path);
  const base = path.slice(dir.length + 1);
  return readdirSync(dir)
    .filter((f) => f.startsWith(base))
    .map((f) => readFileSync(join(dir, f)).toString('latin1'))
    .join('\n');
}

function expectNoSecret(where: string, text: string, secrets = ALL): void {
  for (const secret of secrets) {
    if (text.includes(secret)) throw new Error(`${where} holds the secret ${secret.slice(0, 6)}…`);
  }
}

describe('secrets of jobs', () => {
  let env: Record<string, string>;
  let dispatcher: Dispatcher;
  let executor: Executor;
  let api: Api;
  let stub: HttpStub;
  /** One recorder per dispatcher started (an open stream would hold a stopping dispatcher up). */
  const events: ReturnType<typeof recordEvents>[] = [];
  const eventText = () => events.map((e) => e.text()).join('\n');
  let executorPort: number;
  /** Every API answer the tests read, for the final sweep. */
  const answers: string[] = [];

  const read = async <T>(path: string): Promise<T> => {
    const res = await api.call<T>('GET', path, undefined, 200);
    answers.push(JSON.stringify(res.body), JSON.stringify(res.headers));
    return res.body;
  };

  beforeAll(async () => {
    env = await sqliteEnv('secrets');
    stub = await startHttpStub();
    executorPort = await freePort();
    dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'secrets-dispatcher',
    );
    executor = await startExecutor(env, 'secrets-executor', executorPort);
    api = new Api(dispatcher.base);
    events.push(recordEvents(dispatcher.base, api.authHeaders()));
  });

  afterAll(async () => {
    for (const e of events) e.stop();
    await stub?.close();
    await stopAllApps();
  });

  let shellJob: Job;

  it('takes secretEnv on create and reads it back as ***', async () => {
    const res = await api.call<Job>(
      'POST',
      '/api/jobs',
      {
        name: 'secret-shell',
        cron: ONCE_A_YEAR,
        type: 'shell',
        // The task has the value (its length and a hash prove it) and prints it, alone and cut across two writes.
        command:
          'printf "env=%s len=%s\\n" "$DB_PASSWORD" "${#DB_PASSWORD}"; ' +
          'printf "%s" "$SPLIT" | head -c 9; sleep 0.1; printf "%s\\n" "$SPLIT" | tail -c +10; ' +
          'echo "to stderr $DB_PASSWORD" >&2; exit 3',
        env: { PLAIN: 'visible' },
        secretEnv: { DB_PASSWORD: ENV_SECRET, SPLIT: SPLIT_SECRET },
      },
      201,
    );
    answers.push(JSON.stringify(res.body));
    shellJob = res.body;
    expect(shellJob.secretEnv).toEqual({ DB_PASSWORD: '***', SPLIT: '***' });
    expect(shellJob.env).toEqual({ PLAIN: 'visible' });
    const got = await read<Job>(`/api/jobs/${shellJob.id}`);
    expect(got.secretEnv).toEqual({ DB_PASSWORD: '***', SPLIT: '***' });
    const list = await read<{ items: Job[] }>('/api/jobs?limit=100');
    expect(list.items.find((j) => j.id === shellJob.id)?.secretEnv).toEqual({ DB_PASSWORD: '***', SPLIT: '***' });
  });

  it('gives the task its secrets and masks them in the stored output', async () => {
    const runId = await api.trigger(shellJob.id);
    const run = await api.waitForRunStatus(runId, ['failed', 'succeeded']);
    expect(run.exitCode).toBe(3);
    expect(run.output).toContain(`env=*** len=${ENV_SECRET.length}`);
    expect(run.output).toContain('to stderr ***');
    expect(run.output).toContain('***\n');
    expect(run.output).not.toContain(SPLIT_SECRET.slice(0, 9));
    answers.push(JSON.stringify(await read(`/api/runs/${runId}`)));
  });

  it('PATCH: *** keeps a value, a new value replaces it, a name left out is removed, null clears', async () => {
    const keep = await api.call<Job>(
      'PATCH',
      `/api/jobs/${shellJob.id}`,
      { secretEnv: { DB_PASSWORD: '***', NEW_ONE: REPLACED } },
      200,
    );
    answers.push(JSON.stringify(keep.body));
    expect(keep.body.secretEnv).toEqual({ DB_PASSWORD: '***', NEW_ONE: '***' });
    const runId = await api.trigger(shellJob.id);
    const run = await api.waitForRunStatus(runId, ['failed', 'succeeded']);
    expect(run.output).toContain(`env=*** len=${ENV_SECRET.length}`); // the kept value
    // Other fields of a PATCH leave secrets alone.
    const other = await api.call<Job>('PATCH', `/api/jobs/${shellJob.id}`, { description: 'x' }, 200);
    expect(other.body.secretEnv).toEqual({ DB_PASSWORD: '***', NEW_ONE: '***' });
    const bad = await api.call<{ message: unknown }>(
      'PATCH',
      `/api/jobs/${shellJob.id}`,
      { secretEnv: { NEVER_SET: '***' } },
      400,
    );
    expect(JSON.stringify(bad.body)).toMatch(/secretEnv\.NEVER_SET/);
    const removed = await api.call<Job>('PATCH', `/api/jobs/${shellJob.id}`, { secretEnv: { NEW_ONE: '***' } }, 200);
    expect(removed.body.secretEnv).toEqual({ NEW_ONE: '***' });
    const cleared = await api.call<Job>('PATCH', `/api/jobs/${shellJob.id}`, { secretEnv: null }, 200);
    expect(cleared.body.secretEnv).toEqual({});
    // Set again for the sweeps below (the database holds the sealed value).
    await api.call('PATCH', `/api/jobs/${shellJob.id}`, { secretEnv: { DB_PASSWORD: ENV_SECRET } }, 200);
  });

  it('refuses a name that is both plain and secret, naming it', async () => {
    const env = await api.call<{ message: unknown }>(
      'POST',
      '/api/jobs',
      {
        name: 'both',
        cron: ONCE_A_YEAR,
        type: 'shell',
        command: 'true',
        env: { X_KEY: 'a' },
        secretEnv: { X_KEY: 'bbbb' },
      },
      400,
    );
    expect(JSON.stringify(env.body)).toMatch(/X_KEY is in both env and secretEnv/);
    const headers = await api.call<{ message: unknown }>(
      'POST',
      '/api/jobs',
      {
        name: 'both-h',
        cron: ONCE_A_YEAR,
        type: 'http',
        http: {
          method: 'GET',
          url: stub.url,
          headers: { authorization: 'a' },
          secretHeaders: { Authorization: 'bbbb' },
        },
      },
      400,
    );
    expect(JSON.stringify(headers.body)).toMatch(/Authorization is in both http.headers and http.secretHeaders/);
  });

  it('sends secret headers (over plain ones of the same name) and reads them back as ***', async () => {
    const job = await api.createJob({
      name: 'secret-http',
      cron: ONCE_A_YEAR,
      type: 'http',
      http: {
        method: 'GET',
        url: `${stub.url}/secret-http`,
        headers: { 'X-Plain': 'p' },
        secretHeaders: { Authorization: HEADER_SECRET },
      },
    });
    answers.push(JSON.stringify(job));
    expect((job.http as { secretHeaders: unknown }).secretHeaders).toEqual({ Authorization: '***' });
    const runId = await api.trigger(job.id);
    await api.waitForRunStatus(runId, ['succeeded']);
    const got = stub.requests.find((r) => r.url === '/secret-http');
    expect(got?.headers.authorization).toBe(HEADER_SECRET);
    expect(got?.headers['x-plain']).toBe('p');
    answers.push(JSON.stringify(await read(`/api/jobs/${job.id}`)), JSON.stringify(await read(`/api/runs/${runId}`)));
  });

  it('moves a credential header stored in http.headers into secretHeaders at the next start', async () => {
    const job = await api.createJob({
      name: 'old-http',
      cron: ONCE_A_YEAR,
      type: 'http',
      http: { method: 'GET', url: `${stub.url}/old-http`, headers: { Accept: 'x/y' } },
    });
    events[0].stop();
    await dispatcher.app.kill();
    const db = new Database(env.GOCRON_DATABASE_PATH);
    db.pragma('busy_timeout = 5000');
    // As a job stored before secrets existed: Authorization among the plain headers (the API now moves it itself).
    const http = { method: 'GET', url: `${stub.url}/old-http`, headers: { Authorization: OLD_HEADER, Accept: 'x/y' } };
    db.prepare(`UPDATE jobs SET http = ? WHERE id = ?`).run(
      JSON.stringify({ body: '', expectStatus: [], ...http }),
      job.id,
    );
    db.prepare(`DELETE FROM gocron_settings WHERE name = 'secret_headers_moved'`).run(); // as before the upgrade
    db.close();
    dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'secrets-dispatcher-2',
    );
    api = new Api(dispatcher.base);
    events.push(recordEvents(dispatcher.base, api.authHeaders()));
    const moved = await read<{ http: { headers: Record<string, string>; secretHeaders: Record<string, string> } }>(
      `/api/jobs/${job.id}`,
    );
    expect(moved.http.headers).toEqual({ Accept: 'x/y' });
    expect(moved.http.secretHeaders).toEqual({ Authorization: '***' });
    await dispatcher.app.waitForLog(/Authorization moved into http.secretHeaders/, 1000);
    const runId = await api.trigger(job.id);
    await api.waitForRunStatus(runId, ['succeeded']);
    expect(stub.requests.find((r) => r.url === '/old-http')?.headers.authorization).toBe(OLD_HEADER);
  });

  /** How a process that should refuse to start ended: its exit code and what it wrote (ready or not before). */
  const ending = (started: Promise<{ app: { exited: Promise<{ code: number | null }>; logs(): string } }>) =>
    started.then(
      async ({ app }) => ({ code: (await app.exited).code, logs: app.logs() }),
      (e: Error) => ({ code: /exited \(exit code (\d+)\)/.exec(e.message)?.[1], logs: e.message }),
    );
  const MISMATCH =
    /\[auth\] secret_key \/ data\/secret\.key differs from the key this database was set up with \(fingerprint [0-9a-f]{16}, database [0-9a-f]{16}\)/;
  const OTHER_KEY = 'b'.repeat(64);

  it('an executor or a dispatcher with another key refuses to start, naming the problem', async () => {
    const executorEnd = await ending(
      startExecutor({ ...env, GOCRON_AUTH_SECRET_KEY: OTHER_KEY, GOCRON_EXECUTOR_GROUP: 'elsewhere' }, 'wrong-key-e'),
    );
    expect(String(executorEnd.code)).toBe('2');
    expect(executorEnd.logs).toMatch(MISMATCH);
    expect(executorEnd.logs).not.toContain(OTHER_KEY);
    const dispatcherEnd = await ending(startDispatcher({ ...env, GOCRON_AUTH_SECRET_KEY: OTHER_KEY }, 'wrong-key-d'));
    expect(String(dispatcherEnd.code)).toBe('2');
    expect(dispatcherEnd.logs).toMatch(MISMATCH);
    expect(dispatcherEnd.logs).not.toContain(OTHER_KEY);
  });

  it('a malformed key stops a process at start, naming the key and not the value', async () => {
    const end = await ending(startExecutor({ ...env, GOCRON_AUTH_SECRET_KEY: 'short-key-zzz' }, 'bad-key-e'));
    expect(String(end.code)).toBe('2');
    expect(end.logs).toMatch(/\[auth\] secret_key \(GOCRON_AUTH_SECRET_KEY\): expected 32 bytes/);
    expect(end.logs).not.toContain('short-key-zzz');
  });

  it('leaves the plaintext nowhere: API answers, audit, events, logs, stored output, database file', async () => {
    answers.push(JSON.stringify(await read('/api/audit?limit=200')));
    answers.push(JSON.stringify(await read('/api/jobs?limit=100')));
    for (const j of (await read<{ items: Job[] }>('/api/jobs?limit=100')).items) {
      answers.push(JSON.stringify(await read(`/api/jobs/${j.id}/runs?limit=100`)));
    }
    // The audit log has the creation of the secret job, masked.
    expect(answers.join('\n')).toMatch(/"secretEnv":\{"DB_PASSWORD":"\*\*\*"/);
    expectNoSecret('an API answer', answers.join('\n'));
    await waitFor(() => eventText().includes('"type":"run"'), { timeoutMs: 5000, what: 'run events seen' });
    expectNoSecret('the event stream', eventText());
    expectNoSecret('the dispatcher logs', dispatcher.app.logs());
    expectNoSecret('the executor logs', executor.app.logs());
    const db = new Database(env.GOCRON_DATABASE_PATH, { readonly: true });
    const raw = db.prepare(`SELECT secrets FROM jobs WHERE id = ?`).get(shellJob.id) as { secrets: string };
    db.close();
    expect(raw.secrets).toMatch(/"DB_PASSWORD":"v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"/);
    // Not OLD_HEADER: it was stored in plaintext before the upgrade, and SQLite leaves freed pages as they were
    // until they are reused or the file is vacuumed (the operator's note says so).
    expectNoSecret(
      'the database file',
      databaseBytes(env.GOCRON_DATABASE_PATH),
      ALL.filter((s) => s !== OLD_HEADER.slice(7)),
    );
  });
});
