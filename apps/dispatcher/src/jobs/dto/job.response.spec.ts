import type { JobEntity } from '@app/persistence';
import { JobResponse } from './job.response';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function job(over: Partial<JobEntity> = {}): JobEntity {
  return {
    id: 7,
    name: 'report',
    description: 'nightly',
    cron: '0 2 * * *',
    timezone: 'Europe/Paris',
    type: 'http',
    command: null,
    env: {},
    http: { method: 'POST', url: 'http://127.0.0.1:9000/r', headers: { A: 'b' }, body: '{}', expectStatus: [204] },
    timeoutMs: 30_000,
    retries: 2,
    retryBackoffMs: 500,
    concurrency: 'allow',
    misfire: 'all',
    group: 'batch',
    routing: 'least_busy',
    enabled: true,
    notify: null,
    dependsOn: [
      { jobId: 3, on: 'success' },
      { jobId: 4, on: 'always' },
    ],
    dependencyMode: 'any',
    dependencyWindowMs: 60_000,
    scheduleSetAt: T0,
    lastTickAt: T0,
    nextRunAt: T0 + 60_000,
    verifyFrom: T0 + 60_000,
    version: 3,
    createdAt: T0,
    updatedAt: T0 + 1,
    ...over,
  };
}

/** Ledger fields the API never sends, and times it sends as ISO strings instead of epoch ms. (`version` is sent.) */
const NOT_AS_STORED = ['scheduleSetAt', 'lastTickAt', 'nextRunAt', 'verifyFrom', 'createdAt', 'updatedAt'];
const sentAsIs = (j: JobEntity) => Object.fromEntries(Object.entries(j).filter(([k]) => !NOT_AS_STORED.includes(k)));

describe('JobResponse.of', () => {
  it('sends the contract fields with ISO times and the version, and none of the ledger fields', () => {
    const stored = job();
    const children = [{ jobId: 9, name: 'after', on: 'failure' as const, enabled: false }];
    const last = { id: 41, status: 'succeeded' as const, scheduledAt: T0 };
    expect(JobResponse.of(stored, last, T0 + 5000, children, 'd-2')).toStrictEqual({
      ...sentAsIs(stored),
      children,
      secretEnv: {},
      http: { ...stored.http, secretHeaders: {} },
      createdAt: '2026-11-25T12:00:00.000Z',
      updatedAt: '2026-11-25T12:00:00.001Z',
      nextRunAt: '2026-11-25T12:00:05.000Z',
      lastRun: { id: 41, status: 'succeeded', scheduledAt: '2026-11-25T12:00:00.000Z' },
      owner: 'd-2',
    });
  });

  it('has no next run while paused, no last run before the first, and {} for a missing env', () => {
    const json = JobResponse.of(job({ enabled: false, env: undefined as unknown as Record<string, string> }), null, T0);
    expect(json.nextRunAt).toBeNull();
    expect(json.lastRun).toBeNull();
    expect(json.env).toEqual({});
    expect(JobResponse.of(job(), undefined, null).nextRunAt).toBeNull();
    // No parents: an empty list, never null; no children given: none.
    expect(JobResponse.of(job({ dependsOn: null }), null, T0)).toMatchObject({ dependsOn: [], children: [] });
  });

  it('shows the names of secrets, never their stored form', () => {
    const secrets = { env: { DB_PASSWORD: 'v1.aaa.bbb' }, headers: { Authorization: 'v1.ccc.ddd' } };
    const json = JobResponse.of(job({ secrets }), null, T0);
    expect(json.secretEnv).toEqual({ DB_PASSWORD: '***' });
    expect(json.http?.secretHeaders).toEqual({ Authorization: '***' });
    expect(JSON.stringify(json)).not.toMatch(/v1\.|secrets/);
  });

  it('masks notification URLs (a Slack URL is a credential) and keeps events and addresses', () => {
    const notify = {
      on: ['failed' as const, 'recovered' as const],
      webhook: 'https://user:pw@hooks.example.com:8443/gocron/T0KEN?sig=abc',
      slack: 'https://hooks.slack.com/services/T000/B000/XXXXSECRET',
      email: ['ops@example.com'],
    };
    const json = JobResponse.of(job({ notify }), null, T0);
    expect(json.notify).toEqual({
      on: ['failed', 'recovered'],
      webhook: 'https://hooks.example.com:8443/***',
      slack: 'https://hooks.slack.com/***',
      email: ['ops@example.com'],
    });
    expect(JSON.stringify(json)).not.toMatch(/T0KEN|XXXXSECRET|sig=|pw@|services/);
    expect(JobResponse.of(job({ notify: null }), null, T0).notify).toBeNull();
  });
});
