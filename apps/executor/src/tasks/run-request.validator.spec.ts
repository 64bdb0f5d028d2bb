import type { RunRequest } from '@app/protocol';
import { runRequestProblems } from './run-request.validator';

const valid: RunRequest = {
  runId: 1,
  jobId: 2,
  scheduledAt: '2026-01-01T00:00:00.000Z',
  attempt: 1,
  timeoutMs: 1000,
  dispatcherId: 'd',
  task: 'shell',
  shell: { command: 'true', env: {} },
  retry: null,
  tickKey: '',
  executorKey: '',
};

describe('runRequestProblems', () => {
  it('accepts a well-formed shell and http request', () => {
    expect(runRequestProblems(valid)).toEqual([]);
    expect(
      runRequestProblems({
        ...valid,
        task: 'http',
        shell: null,
        http: { method: 'GET', url: 'http://127.0.0.1:1/x', headers: {}, body: '', expectStatus: [] },
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
        timeoutMs: 86_400_001,
        scheduledAt: 'yesterday',
        shell: { command: '', env: {} },
      }),
    ).toEqual([
      'run_id: must be a positive integer',
      'job_id: must be a positive integer',
      'attempt: must be a positive integer',
      'timeout_ms: must be 1..86400000',
      'scheduled_at: must be an ISO 8601 instant',
      'shell.command: must not be empty',
    ]);
    expect(runRequestProblems({ ...valid, task: undefined, shell: null })).toEqual([
      'task: one of shell or http is required',
    ]);
    expect(
      runRequestProblems({
        ...valid,
        task: 'http',
        shell: null,
        http: { method: 'GET', url: 'file:///etc/passwd', headers: {}, body: '', expectStatus: [] },
      }),
    ).toEqual(['http.url: must be http or https']);
    expect(
      runRequestProblems({
        ...valid,
        task: 'http',
        shell: null,
        http: { method: '', url: 'not a url', headers: {}, body: '', expectStatus: [] },
      }),
    ).toEqual(['http.method: must not be empty', 'http.url: must be an absolute URL']);
  });
});
