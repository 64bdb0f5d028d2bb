import type { JobJson } from '@app/contract';
import { bodyOf, formOf, NEW_JOB } from './job-form';

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
