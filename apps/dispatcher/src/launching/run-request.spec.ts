import type { JobEntity, LedgerKey } from '@app/persistence';
import { requestBytes, runRequestOf, UnofferableJobError } from './run-request';

const run: LedgerKey = {
  id: 7,
  jobId: 3,
  tickKey: '1767225600',
  attempt: 2,
  executorKey: '',
  scheduledAt: 1767225600000,
};
const job = {
  id: 3,
  version: 9,
  type: 'shell',
  command: 'echo secret-ish',
  env: { TOKEN: 'abc' },
  http: null,
  timeoutMs: 1000,
  retries: 1,
  retryBackoffMs: 10,
} as unknown as JobEntity;

describe('runRequestOf', () => {
  it('names the run by its ledger key and the job version, and carries nothing runnable', () => {
    const req = runRequestOf(run, job, 'd1');
    expect(req).toEqual({
      runId: 7,
      jobId: 3,
      jobVersion: 9,
      scheduledAt: '2026-01-01T00:00:00.000Z',
      attempt: 2,
      timeoutMs: 0,
      dispatcherId: 'd1',
      retry: null,
      tickKey: '1767225600',
      executorKey: '',
    });
    expect(JSON.stringify(req)).not.toMatch(/echo|TOKEN|abc/);
    expect(requestBytes(req)).toBeLessThan(400);
  });

  it('refuses a job whose row holds no task, with the reason the executor would give', () => {
    const broken = { ...job, type: 'http', http: null } as unknown as JobEntity;
    expect(() => runRequestOf(run, broken, 'd1')).toThrow(UnofferableJobError);
    expect(() => runRequestOf(run, broken, 'd1')).toThrow(/job 3 is an http job without its http request/);
    const badEnv = { ...job, env: { N: 1 } } as unknown as JobEntity;
    expect(() => runRequestOf(run, badEnv, 'd1')).toThrow(/job 3's env.N is not a string/);
  });
});
