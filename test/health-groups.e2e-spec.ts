// /api/health per executor group (issue 14, item 7): a group that enabled jobs use but no executor serves turns the
// health degraded, naming the group; pausing those jobs (or an executor of the group arriving) clears it.
import { Api, sqliteEnv, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { freePort } from './support/services';
import { waitFor } from './support/wait';

interface Health {
  status: string;
  checks: {
    executors: {
      status: string;
      detail: string;
      groups: Record<string, { up: number; available: number; jobs: number }>;
    };
  };
}

describe('health per executor group', () => {
  afterAll(() => stopAllApps());

  it('is degraded while a group with enabled jobs has no executor, and says which', async () => {
    const env = await sqliteEnv('health-groups');
    const [p1, p2] = [await freePort(), await freePort()];
    const dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${p1},127.0.0.1:${p2}` },
      'health-dispatcher',
    );
    await startExecutor(env, 'health-default', p1);
    const api = new Api(dispatcher.base);
    const health = async () => (await api.call<Health>('GET', '/api/health', undefined, 200)).body;
    await waitFor(async () => (await health()).status === 'ok', {
      timeoutMs: 20_000,
      what: 'healthy with one executor',
    });

    await api.createJob({ name: 'in-default', cron: '0 0 1 1 *', type: 'shell', command: 'true' });
    const batch = await api.createJob({
      name: 'in-batch',
      cron: '0 0 1 1 *',
      type: 'shell',
      command: 'true',
      group: 'batch',
    });
    const degraded = await waitFor(
      async () => {
        const h = await health();
        return h.status === 'degraded' ? h : undefined;
      },
      { timeoutMs: 10_000, what: 'degraded for the batch group' },
    );
    expect(degraded.checks.executors.detail).toBe("no executor available in group 'batch' (1 enabled job(s))");
    expect(degraded.checks.executors.groups).toEqual({
      default: { up: 1, available: 1, jobs: 1 },
      batch: { up: 0, available: 0, jobs: 1 },
    });

    await api.call('POST', `/api/jobs/${batch.id}/pause`, undefined, 200);
    await waitFor(async () => (await health()).status === 'ok', {
      timeoutMs: 10_000,
      what: 'ok once the batch job is paused',
    });
    await api.call('POST', `/api/jobs/${batch.id}/resume`, undefined, 200);
    await waitFor(async () => (await health()).status === 'degraded', { timeoutMs: 10_000, what: 'degraded again' });
    await startExecutor({ ...env, GOCRON_EXECUTOR_GROUP: 'batch' }, 'health-batch', p2);
    const healed = await waitFor(
      async () => {
        const h = await health();
        return h.status === 'ok' ? h : undefined;
      },
      { timeoutMs: 20_000, what: 'ok once a batch executor is up' },
    );
    expect(healed.checks.executors.groups.batch).toEqual({ up: 1, available: 1, jobs: 1 });
  });
});
