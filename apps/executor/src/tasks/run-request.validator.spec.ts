import type { RunRequest } from '@app/protocol';
import { runRequestProblems } from './run-request.validator';

const valid: RunRequest = {
  runId: 1,
  jobId: 2,
  jobVersion: 3,
  scheduledAt: '2026-01-01T00:00:00.000Z',
  attempt: 1,
  timeoutMs: 0,
  dispatcherId: 'd',
  retry: null,
  tickKey: '1767225600',
  executorKey: '',
};

describe('runRequestProblems', () => {
  it('accepts a run named by its ledger key, with or without a task (which it ignores)', () => {
    expect(runRequestProblems(valid)).toEqual([]);
    expect(runRequestProblems({ ...valid, jobVersion: 0 })).toEqual([]);
    expect(
      runRequestProblems({
        ...valid,
        task: 'http',
        http: { method: '', url: 'file:///etc/passwd', headers: {}, body: '', expectStatus: [] },
        timeoutMs: -1,
      }),
    ).toEqual([]);
  });

  it('names every bad field of a hostile or broken message', () => {
    expect(
      runRequestProblems({
        ...valid,
        runId: 0,
        jobId: -1,
        attempt: 0,
        scheduledAt: 'yesterday',
        tickKey: '',
        jobVersion: -2,
      }),
    ).toEqual([
      'run_id: must be a positive integer',
      'job_id: must be a positive integer',
      'attempt: must be a positive integer',
      'scheduled_at: must be an ISO 8601 instant',
      'tick_key: must not be empty',
      'job_version: must be a non-negative integer',
    ]);
  });
});
