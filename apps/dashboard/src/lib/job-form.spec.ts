import type { JobJson } from '@app/contract';
import { bodyOf, formOf, formProblems, NEW_JOB, windowMsOf, windowOf } from './job-form';

const job = (over: Partial<JobJson>): JobJson =>
  ({
    id: 1,
    name: 'j',
    description: '',
    cron: '* * * * *',
    timezone: 'UTC',
    type: 'shell',
    command: 'true',
    env: { PLAIN: 'p' },
    secretEnv: { TOKEN: '***', OTHER: '***' },
    http: null,
    timeoutMs: 1000,
    retries: 0,
    retryBackoffMs: 0,
    concurrency: 'forbid',
    misfire: 'once',
    group: 'default',
    routing: 'round_robin',
    enabled: true,
    notify: null,
    dependsOn: [],
    dependencyMode: 'all',
    dependencyWindowMs: 3_600_000,
    children: [],
    version: 1,
    createdAt: '',
    updatedAt: '',
    nextRunAt: null,
    lastRun: null,
    ...over,
  }) as JobJson;

describe('the job form and secrets', () => {
  it('holds the names of stored secrets, never a value', () => {
    const form = formOf(job({}));
    expect(form.secretEnv).toEqual([
      { key: 'TOKEN', value: '', stored: true },
      { key: 'OTHER', value: '', stored: true },
    ]);
  });

  it('keeps a stored secret left empty ("***"), replaces a typed one, drops a removed one, adds a new one', () => {
    const form = formOf(job({}));
    form.secretEnv = [
      { key: 'TOKEN', value: '', stored: true },
      { key: 'NEW_ONE', value: 'typed' },
    ];
    expect(bodyOf(form).secretEnv).toEqual({ TOKEN: '***', NEW_ONE: 'typed' });
    form.secretEnv[0].value = 'replaced';
    expect(bodyOf(form).secretEnv).toEqual({ TOKEN: 'replaced', NEW_ONE: 'typed' });
  });

  it('sends secret headers of an http job the same way', () => {
    const form = formOf(
      job({
        type: 'http',
        command: null,
        http: {
          method: 'GET',
          url: 'http://x',
          headers: {},
          body: '',
          expectStatus: [],
          secretHeaders: { Authorization: '***' },
        },
      }),
    );
    expect((bodyOf(form).http as { secretHeaders: unknown }).secretHeaders).toEqual({ Authorization: '***' });
  });
});

describe('the notify field', () => {
  it('is null for the defaults, and write-only URLs kept as "***" when left empty', () => {
    const base = { ...NEW_JOB, name: 'n', command: 'true' };
    expect(bodyOf(base).notify).toBeNull();
    expect(
      bodyOf({
        ...base,
        notifyOwn: true,
        notifyOn: ['failed'],
        notifyWebhookStored: true,
        notifyEmail: 'a@x.org, b@x.org',
      }).notify,
    ).toEqual({ on: ['failed'], webhook: '***', email: ['a@x.org', 'b@x.org'] });
    expect(
      bodyOf({
        ...base,
        notifyOwn: true,
        notifyOn: [],
        notifySlack: ' https://hooks.slack.com/x ',
        notifySlackStored: true,
      }).notify,
    ).toEqual({ on: [], slack: 'https://hooks.slack.com/x' });
  });
});

describe('the dependencies', () => {
  it('reads parents, mode and window from a job, and sends them back as the API takes them', () => {
    const form = formOf(
      job({
        cron: '',
        dependsOn: [
          { jobId: 7, on: 'success' },
          { jobId: 9, on: 'always' },
        ],
        dependencyMode: 'any',
        dependencyWindowMs: 1_800_000,
        children: [{ jobId: 3, name: 'c', on: 'failure', enabled: true }],
      }),
    );
    expect(form.parents).toEqual([
      { jobId: 7, name: null, on: 'success' },
      { jobId: 9, name: null, on: 'always' },
    ]);
    expect(form).toMatchObject({ dependencyMode: 'any', dependencyWindow: '30', dependencyWindowUnit: 'min' });
    form.parents[1] = { ...form.parents[1], name: 'known now', on: 'failure' };
    const body = bodyOf(form);
    expect(body).toMatchObject({
      cron: '',
      dependsOn: [
        { jobId: 7, on: 'success' },
        { jobId: 9, on: 'failure' },
      ],
      dependencyMode: 'any',
      dependencyWindowMs: 1_800_000,
    });
    // Read only: never sent.
    expect(body).not.toHaveProperty('children');
  });

  it('defaults a new job to no parents, mode all and a window of an hour, and sends none of them without parents', () => {
    expect(NEW_JOB).toMatchObject({
      parents: [],
      dependencyMode: 'all',
      dependencyWindow: '1',
      dependencyWindowUnit: 'h',
    });
    const body = bodyOf({ ...NEW_JOB, name: 'n', command: 'true' });
    for (const k of ['dependsOn', 'dependencyMode', 'dependencyWindowMs']) expect(body).not.toHaveProperty(k);
    expect(bodyOf({ ...NEW_JOB, parents: [{ jobId: 4, name: 'p', on: 'always' }] })).toMatchObject({
      dependsOn: [{ jobId: 4, on: 'always' }],
      dependencyMode: 'all',
      dependencyWindowMs: 3_600_000,
    });
  });

  it('sends an empty dependsOn when the last parent of a job is removed', () => {
    const form = formOf(job({ dependsOn: [{ jobId: 7, on: 'success' }] }));
    expect(form.hadParents).toBe(true);
    expect(bodyOf({ ...form, parents: [] })).toMatchObject({ dependsOn: [] });
    expect(formOf(job({})).hadParents).toBe(false);
  });

  it.each([
    [86_400_000, '1', 'd'],
    [7_200_000, '2', 'h'],
    [90_000, '90', 's'],
    [120_000, '2', 'min'],
    [1500, '1.5', 's'],
    [0, '0', 's'],
  ])('shows a window of %p ms as %p %p, and converts it back', (ms, value, unit) => {
    const w = windowOf(ms);
    expect(w).toEqual({ dependencyWindow: value, dependencyWindowUnit: unit });
    expect(windowMsOf(w)).toBe(ms);
  });

  it('sends a window that is not a number as typed, for the API to name it', () => {
    expect(windowMsOf({ dependencyWindow: 'soon', dependencyWindowUnit: 'h' })).toBe('soon');
    expect(windowMsOf({ dependencyWindow: ' ', dependencyWindowUnit: 'h' })).toBeUndefined();
    expect(windowMsOf({ dependencyWindow: '0.1', dependencyWindowUnit: 'h' })).toBe(360_000);
  });

  it('needs a schedule or parents, and takes an empty cron with parents', () => {
    const base = { ...NEW_JOB, name: 'n', command: 'true' };
    expect(formProblems(base)).toBeNull();
    expect(formProblems({ ...base, cron: '  ' })?.byField.cron?.[0]).toMatch(/^cron: a job needs a schedule, parents/);
    expect(formProblems({ ...base, cron: '', parents: [{ jobId: 2, name: 'p', on: 'success' }] })).toBeNull();
    const many = Array.from({ length: 101 }, (_, i) => ({ jobId: i + 2, name: null, on: 'success' as const }));
    expect(formProblems({ ...base, parents: many })?.byField.dependsOn?.[0]).toMatch(/^dependsOn: at most 100/);
  });
});
