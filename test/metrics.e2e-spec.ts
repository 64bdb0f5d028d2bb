// Metrics (issue 14, item 4): the dispatcher's /metrics (start lag, executors per group) and the executor's own on
// [executor] metrics_port (runs started and finished by status, durations), which asks for the executor token when
// [auth] public_metrics is false.
import { Api, bearer, sqliteEnv, startDispatcher, startExecutor } from './support/gocron';
import { httpJson, stopAllApps, TEST_EXECUTOR_TOKEN } from './support/processes';
import { freePort } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *';

describe('metrics', () => {
  afterAll(() => stopAllApps());

  it('counts a run on both sides and serves the executor metrics only with the token when not public', async () => {
    const env = await sqliteEnv('metrics');
    const [executorPort, metricsPort] = [await freePort(), await freePort()];
    const dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'metrics-dispatcher',
    );
    await startExecutor(
      { ...env, GOCRON_EXECUTOR_METRICS_PORT: String(metricsPort), GOCRON_AUTH_PUBLIC_METRICS: 'false' },
      'metrics-executor',
      executorPort,
    );
    const api = new Api(dispatcher.base);
    const ok = await api.createJob({ name: 'ok', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    const bad = await api.createJob({ name: 'bad', cron: ONCE_A_YEAR, type: 'shell', command: 'exit 3' });
    await api.waitForRunStatus(await api.trigger(ok.id), ['succeeded'], 20_000);
    await api.waitForRunStatus(await api.trigger(bad.id), ['failed'], 20_000);

    const executorMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
    expect((await httpJson('GET', executorMetrics)).status).toBe(401);
    expect(
      (await httpJson('GET', executorMetrics, undefined, { headers: bearer('not-the-token-at-all') })).status,
    ).toBe(401);
    expect((await httpJson('GET', `http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
    const scrape = async () =>
      String((await httpJson('GET', executorMetrics, undefined, { headers: bearer(TEST_EXECUTOR_TOKEN) })).body);
    const text = await waitFor(
      async () => {
        const t = await scrape();
        return /gocron_runs_finished_total\{group="default",status="failed"\} 1/.test(t) ? t : undefined;
      },
      { timeoutMs: 10_000, what: 'the failed run counted' },
    );
    expect(text).toMatch(/^gocron_runs_finished_total\{group="default",status="succeeded"\} 1$/m);
    expect(text).toMatch(/^gocron_runs_started_total\{group="default"\} 2$/m);
    expect(text).toMatch(/^gocron_run_duration_seconds_count\{group="default",status="succeeded"\} 1$/m);
    expect(text).toMatch(/^gocron_executor_capacity\{group="default"\} 16$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).not.toContain(TEST_EXECUTOR_TOKEN);

    const d = String((await httpJson('GET', `${dispatcher.base}/metrics`, undefined, { headers: bearer() })).body);
    expect(d).toMatch(/^gocron_run_start_lag_seconds_count\{group="default"\} 2$/m);
    expect(d).toMatch(/^gocron_executors_up\{group="default",state="available"\} 1$/m);
    expect(d).toMatch(/^gocron_jobs_scheduled 2$/m);
  });
});
