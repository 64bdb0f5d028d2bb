// A retry waiting out its back-off survives the only dispatcher's death (issue 14, item 6): the retry is a pending
// row in the ledger, so the dispatcher started again offers it once its back-off is over, exactly once.
import { Api, Dispatcher, Run, sqliteEnv, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { freePort } from './support/services';

const ONCE_A_YEAR = '0 0 1 1 *';
const BACKOFF_MS = 6000;

describe('a retry across a dispatcher restart', () => {
  afterAll(() => stopAllApps());

  it('runs once after the restart, not before its back-off', async () => {
    const env = await sqliteEnv('retry-restart');
    const executorPort = await freePort();
    const dispatcherEnv = { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` };
    let dispatcher: Dispatcher = await startDispatcher(dispatcherEnv, 'retry-dispatcher');
    await startExecutor(env, 'retry-executor', executorPort);
    const api = new Api(dispatcher.base);
    // Fails its first attempt, succeeds its second.
    const job = await api.createJob({
      name: 'fails-once',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'test "$GOCRON_ATTEMPT" -ge 2 && echo attempt-$GOCRON_ATTEMPT',
      retries: 2,
      retryBackoffMs: BACKOFF_MS,
    });
    await api.trigger(job.id);
    const first = await api.waitForRun(job.id, (r) => r.attempt === 1 && r.status === 'failed', 'attempt 1 failed');
    const waiting = await api.waitForRun(job.id, (r) => r.attempt === 2, 'attempt 2 recorded');
    expect(waiting.status).toBe('pending');

    // The only dispatcher dies while the retry waits; another starts on the same ledger and port.
    await dispatcher.app.kill('SIGKILL');
    // The point of the test: the dispatcher died while the retry was still waiting.
    expect(Date.now()).toBeLessThan(Date.parse(first.finishedAt!) + BACKOFF_MS);
    dispatcher = await startDispatcher(dispatcherEnv, 'retry-dispatcher-2', dispatcher.port);
    const retry: Run = await api.waitForRun(
      job.id,
      (r) => r.attempt === 2 && r.status === 'succeeded',
      'attempt 2 succeeded after the restart',
      BACKOFF_MS + 30_000,
    );
    expect(retry.output).toBe('attempt-2\n');
    expect(retry.trigger).toBe('retry');
    // Not before the back-off after the first attempt ended.
    expect(Date.parse(retry.startedAt!)).toBeGreaterThanOrEqual(Date.parse(first.finishedAt!) + BACKOFF_MS);
    const attempts = (await api.runs(job.id)).map((r) => [r.attempt, r.status]).sort();
    expect(attempts).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);
  });
});
