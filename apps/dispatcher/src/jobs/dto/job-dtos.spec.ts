import { BadRequestException } from '@nestjs/common';
import { ApiValidationPipe } from '../../common/api-validation.pipe';
import { CreateJobDto } from './create-job.dto';
import { UpdateJobDto } from './update-job.dto';

// The API's validation of job bodies as the dispatcher runs it (the global ApiValidationPipe). `null` is a value,
// not "left out": where the contract has no null it is refused naming the field, never passed on to a NOT NULL
// column (a 500).

const pipe = new ApiValidationPipe();
const SHELL = { name: 'n', cron: '* * * * *', type: 'shell', command: 'true' };
const HTTP = { name: 'h', cron: '* * * * *', type: 'http', http: { method: 'GET', url: 'http://127.0.0.1/' } };

async function validate(metatype: typeof CreateJobDto | typeof UpdateJobDto, body: object): Promise<unknown> {
  return pipe.transform(body, { type: 'body', metatype });
}

/** The 400's messages, or a failure when the body was accepted. */
async function refusal(metatype: typeof CreateJobDto | typeof UpdateJobDto, body: object): Promise<string[]> {
  try {
    await validate(metatype, body);
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestException);
    const { message } = (e as BadRequestException).getResponse() as { message: string | string[] };
    return Array.isArray(message) ? message : [message];
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

const NOT_NULL_FIELDS = [
  'name',
  'description',
  'cron',
  'timezone',
  'type',
  'env',
  'timeoutMs',
  'retries',
  'retryBackoffMs',
  'concurrency',
  'misfire',
  'group',
  'routing',
  'enabled',
];

describe('job bodies: null is a value', () => {
  it.each(NOT_NULL_FIELDS)('PATCH refuses %s: null, naming it', async (field) => {
    expect(await refusal(UpdateJobDto, { [field]: null })).toEqual([`${field} must not be null`]);
  });

  it.each(NOT_NULL_FIELDS)('POST refuses %s: null, naming it', async (field) => {
    expect(await refusal(CreateJobDto, { ...SHELL, [field]: null })).toEqual([`${field} must not be null`]);
  });

  it('names every null field of one body', async () => {
    const messages = await refusal(UpdateJobDto, { name: null, retries: null, enabled: null });
    expect(messages.sort()).toEqual(['enabled must not be null', 'name must not be null', 'retries must not be null']);
  });

  it('refuses null inside http, env and headers, naming the nested field', async () => {
    expect(await refusal(CreateJobDto, { ...HTTP, http: { ...HTTP.http, method: null } })).toEqual([
      'http.method must not be null',
    ]);
    expect(await refusal(UpdateJobDto, { http: { method: 'GET', url: null } })).toEqual(['http.url must not be null']);
    expect(await refusal(CreateJobDto, { ...SHELL, env: { A: 'x', B: null } })).toEqual([
      'env.B must be a string, got null',
    ]);
    expect(await refusal(UpdateJobDto, { http: { ...HTTP.http, headers: { 'X-A': null } } })).toEqual([
      'http.headers.X-A must be a string, got null',
    ]);
    expect((await refusal(CreateJobDto, { ...HTTP, http: { ...HTTP.http, expectStatus: [null] } })).join()).toMatch(
      /http\.each value in expectStatus must be an integer/,
    );
  });

  it('refuses a null task field the job type needs', async () => {
    expect((await refusal(CreateJobDto, { ...SHELL, command: null })).join()).toMatch(
      /command is required for a shell job/,
    );
    expect((await refusal(CreateJobDto, { ...HTTP, http: null })).join()).toMatch(/http is required for an http job/);
    expect((await refusal(UpdateJobDto, { type: 'shell', command: null })).join()).toMatch(
      /command is required for a shell job/,
    );
  });

  it('accepts null where the contract has it: the task field of the other type, http defaults', async () => {
    // PATCH without a type: the stored job's type decides (JobsService refuses what it needs).
    await expect(validate(UpdateJobDto, { command: null })).resolves.toEqual({ command: null });
    await expect(validate(UpdateJobDto, { http: null })).resolves.toEqual({ http: null });
    await expect(validate(UpdateJobDto, { type: 'http', http: HTTP.http, command: null })).resolves.toMatchObject({
      command: null,
    });
    await expect(validate(UpdateJobDto, { type: 'shell', command: 'x', http: null })).resolves.toMatchObject({
      http: null,
    });
    // A job read back (command: null for an http job, http: null for a shell job) can be written again.
    await expect(validate(CreateJobDto, { ...HTTP, command: null })).resolves.toMatchObject({ command: null });
    await expect(validate(CreateJobDto, { ...SHELL, http: null })).resolves.toMatchObject({ http: null });
    // headers, body and expectStatus have defaults (httpSpecWithDefaults): null stands for them.
    const http = { ...HTTP.http, headers: null, body: null, expectStatus: null };
    await expect(validate(CreateJobDto, { ...HTTP, http })).resolves.toMatchObject({ http });
  });

  it('refuses a NUL in an environment value and control characters in a header value, never quoting the value', async () => {
    const secret = 'nulSecret-Qw8Er7Ty6Ui5';
    const env = (await refusal(CreateJobDto, { ...SHELL, secretEnv: { PW: `${secret}\u0000tail` } })).join();
    expect(env).toBe('secretEnv.PW holds a NUL byte, which an environment variable can not');
    expect((await refusal(CreateJobDto, { ...SHELL, env: { A: 'a\u0000' } })).join()).toMatch(/env\.A holds a NUL/);
    for (const bad of [`${secret}\r\nX-Evil: 1`, `${secret}\u0001`, `${secret}\u20ac`]) {
      const http = { ...HTTP.http, secretHeaders: { Authorization: bad } };
      const message = (await refusal(CreateJobDto, { ...HTTP, http })).join();
      expect(message).toMatch(/http\.secretHeaders\.Authorization holds a character a header value can not/);
      expect(message).not.toContain(secret);
    }
    const plain = { ...HTTP.http, headers: { 'X-A': 'a\nb' } };
    expect((await refusal(CreateJobDto, { ...HTTP, http: plain })).join()).toMatch(
      /http\.headers\.X-A holds a character/,
    );
    await expect(validate(CreateJobDto, { ...SHELL, env: { A: 'é ok\ttab' } })).resolves.toBeTruthy();
  });

  it('keeps refusing what it refused before, and accepting valid bodies', async () => {
    expect((await refusal(CreateJobDto, { ...SHELL, env: { A: 1 } })).join()).toMatch(/env\.A must be a string/);
    expect((await refusal(CreateJobDto, { ...SHELL, env: { 'a-b': 'x' } })).join()).toMatch(/env: key 'a-b'/);
    expect((await refusal(CreateJobDto, { ...SHELL, env: [] })).join()).toMatch(/env must be an object/);
    expect((await refusal(CreateJobDto, { ...SHELL, name: '' })).join()).toMatch(/name should not be empty/);
    expect((await refusal(CreateJobDto, { ...SHELL, command: undefined })).join()).toMatch(/command/);
    await expect(validate(CreateJobDto, { ...SHELL, env: { A: 'x' } })).resolves.toMatchObject({ env: { A: 'x' } });
    await expect(validate(CreateJobDto, HTTP)).resolves.toMatchObject(HTTP);
    await expect(validate(UpdateJobDto, {})).resolves.toEqual({});
  });
});

describe('job bodies: notify', () => {
  const NOTIFY = {
    on: ['failed', 'recovered'],
    webhook: 'https://hooks.example.com/gocron',
    slack: 'https://hooks.slack.com/services/T/B/X',
    email: ['ops@example.com'],
  };

  it('accepts events, http(s) URLs, addresses, "***" for a URL, and null', async () => {
    await expect(validate(CreateJobDto, { ...SHELL, notify: NOTIFY })).resolves.toBeDefined();
    await expect(validate(UpdateJobDto, { notify: { on: [], webhook: '***' } })).resolves.toBeDefined();
    await expect(validate(UpdateJobDto, { notify: null })).resolves.toBeDefined();
  });

  it.each([
    [
      { on: ['failed', 'exploded'] },
      'notify.each value in on must be one of failed, timed_out, lost, missed, recovered, succeeded',
    ],
    [{ on: ['failed'], webhook: 'ftp://hooks.example.com/x' }, 'notify.webhook must be an http or https URL'],
    [{ on: ['failed'], slack: 'javascript:alert(1)' }, 'notify.slack must be an http or https URL'],
    [
      { on: ['failed'], email: ['ops@example.com', 'not an address'] },
      'notify.each value in email must be an email address',
    ],
    [{ webhook: 'https://hooks.example.com/' }, 'notify.on must be an array'],
    [{ on: ['failed'], unknown: 1 }, 'notify.property unknown should not exist'],
    [[], 'notify must be an object: {on, webhook, slack, email}'],
    [
      [{ on: ['failed'], webhook: 'https://hooks.example.com/x' }],
      'notify must be an object: {on, webhook, slack, email}',
    ],
  ])('refuses %j naming the field', async (notify, message) => {
    const messages = await refusal(CreateJobDto, { ...SHELL, notify });
    expect(messages).toContain(message);
    // A refused URL is named, never echoed (a Slack URL is a credential).
    expect(messages.join(' ')).not.toMatch(/hooks\.example\.com|alert/);
  });
});
