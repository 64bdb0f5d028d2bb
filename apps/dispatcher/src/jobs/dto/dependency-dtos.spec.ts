import { BadRequestException } from '@nestjs/common';
import { ApiValidationPipe } from '../../common/api-validation.pipe';
import { CreateJobDto } from './create-job.dto';
import { DeleteJobQuery, TriggerJobQuery } from './job-actions.query';
import { UpdateJobDto } from './update-job.dto';

// The dependency fields of job bodies (issue 15) as the global ApiValidationPipe checks them: a hostile body is a
// 400 that names the field, never a 500 and never stored.

const pipe = new ApiValidationPipe();
const CHILD = { name: 'child', type: 'shell', command: 'true' };

type Meta = typeof CreateJobDto | typeof UpdateJobDto | typeof DeleteJobQuery | typeof TriggerJobQuery;

async function accepted(metatype: Meta, value: object, type: 'body' | 'query' = 'body'): Promise<unknown> {
  return pipe.transform(value, { type, metatype });
}

/** The 400's messages, or a failure when the input was accepted. */
async function refusal(metatype: Meta, value: unknown, type: 'body' | 'query' = 'body'): Promise<string[]> {
  try {
    await pipe.transform(value, { type, metatype });
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestException);
    const { message } = (e as BadRequestException).getResponse() as { message: string | string[] };
    return Array.isArray(message) ? message : [message];
  }
  throw new Error(`accepted ${JSON.stringify(value).slice(0, 200)}`);
}

const parents = (n: number) => Array.from({ length: n }, (_, i) => ({ jobId: i + 1, on: 'success' }));

describe('dependsOn, dependencyMode, dependencyWindowMs', () => {
  it('accepts parents without a cron, with a mode and a window', async () => {
    const dto = (await accepted(CreateJobDto, {
      ...CHILD,
      dependsOn: [
        { jobId: 1, on: 'success' },
        { jobId: 2, on: 'failure' },
        { jobId: 3, on: 'always' },
      ],
      dependencyMode: 'any',
      dependencyWindowMs: 60_000,
    })) as CreateJobDto;
    expect(dto.dependsOn).toEqual([
      { jobId: 1, on: 'success' },
      { jobId: 2, on: 'failure' },
      { jobId: 3, on: 'always' },
    ]);
    expect(dto.cron).toBeUndefined();
    expect(await accepted(CreateJobDto, { ...CHILD, cron: '', dependsOn: parents(100) })).toBeInstanceOf(CreateJobDto);
  });

  it('accepts [] and null on PATCH (removes every parent)', async () => {
    expect(((await accepted(UpdateJobDto, { dependsOn: [] })) as UpdateJobDto).dependsOn).toEqual([]);
    expect(((await accepted(UpdateJobDto, { dependsOn: null })) as UpdateJobDto).dependsOn).toBeNull();
  });

  it('refuses 101 parents, naming the bound', async () => {
    expect(await refusal(CreateJobDto, { ...CHILD, dependsOn: parents(101) })).toEqual([
      'dependsOn: at most 100 parents',
    ]);
  });

  it('refuses a parent named twice, naming it', async () => {
    const body = {
      ...CHILD,
      dependsOn: [
        { jobId: 7, on: 'success' },
        { jobId: 8, on: 'success' },
        { jobId: 7, on: 'failure' },
      ],
    };
    expect(await refusal(CreateJobDto, body)).toEqual(['dependsOn: job 7 is named twice']);
  });

  it.each([
    ['a string', 'job-1', 'dependsOn must be an array of {jobId, on}'],
    ['an object', { jobId: 1, on: 'success' }, 'dependsOn must be an array of {jobId, on}'],
    ['a number', 3, 'dependsOn must be an array of {jobId, on}'],
  ])('refuses dependsOn as %s', async (_what, dependsOn, message) => {
    expect(await refusal(CreateJobDto, { ...CHILD, dependsOn })).toContain(message);
  });

  it.each([
    ['ids instead of objects', [1, 2]],
    ['a null item', [null]],
    ['an array item', [[1, 'success']]],
  ])('refuses %s, naming dependsOn', async (_what, dependsOn) => {
    const messages = await refusal(CreateJobDto, { ...CHILD, dependsOn });
    expect(messages.join('\n')).toMatch(/dependsOn/);
  });

  it.each([
    ['a string id', { jobId: '1', on: 'success' }, /dependsOn\.0\.jobId must be an integer/],
    ['a fractional id', { jobId: 1.5, on: 'success' }, /dependsOn\.0\.jobId must be an integer/],
    ['id 0', { jobId: 0, on: 'success' }, /dependsOn\.0\.jobId must not be less than 1/],
    ['a negative id', { jobId: -4, on: 'success' }, /dependsOn\.0\.jobId must not be less than 1/],
    ['an id past 2^53', { jobId: 1e20, on: 'success' }, /dependsOn\.0\.jobId must not be greater than/],
    ['a null id', { jobId: null, on: 'success' }, /dependsOn\.0\.jobId must not be null/],
    ['no id', { on: 'success' }, /dependsOn\.0\.jobId must be an integer/],
    [
      'an unknown condition',
      { jobId: 1, on: 'sometimes' },
      /dependsOn\.0\.on must be one of the following values: success, failure, always/,
    ],
    ['no condition', { jobId: 1 }, /dependsOn\.0\.on must be one of the following values/],
    ['an extra field', { jobId: 1, on: 'success', when: 'now' }, /dependsOn\.0\.property when should not exist/],
  ])('refuses a parent with %s, naming the nested field', async (_what, item, message) => {
    expect((await refusal(CreateJobDto, { ...CHILD, dependsOn: [item] })).join('\n')).toMatch(message);
  });

  it('refuses a bad mode and a window out of bounds or not an integer, naming them', async () => {
    expect(await refusal(CreateJobDto, { ...CHILD, dependsOn: parents(1), dependencyMode: 'some' })).toEqual([
      'dependencyMode must be one of the following values: any, all',
    ]);
    for (const dependencyWindowMs of [999, 604_800_001, 1e300, 1500.5, '60000', -1]) {
      const messages = await refusal(UpdateJobDto, { dependencyWindowMs });
      expect(messages.length).toBeGreaterThan(0);
      expect(messages.every((m) => m.startsWith('dependencyWindowMs'))).toBe(true);
    }
    expect(await accepted(UpdateJobDto, { dependencyWindowMs: 604_800_000 })).toBeInstanceOf(UpdateJobDto);
    expect(await accepted(UpdateJobDto, { dependencyWindowMs: 1000 })).toBeInstanceOf(UpdateJobDto);
    expect(await refusal(UpdateJobDto, { dependencyMode: null })).toEqual(['dependencyMode must not be null']);
    expect(await refusal(UpdateJobDto, { dependencyWindowMs: null })).toEqual(['dependencyWindowMs must not be null']);
  });

  it('still refuses a cron that is not a string, and null', async () => {
    expect(await refusal(CreateJobDto, { ...CHILD, cron: 5, dependsOn: parents(1) })).toContain(
      'cron must be a string',
    );
    expect(await refusal(UpdateJobDto, { cron: null })).toEqual(['cron must not be null']);
  });
});

describe('force and cascade', () => {
  it.each([
    [DeleteJobQuery, 'force'],
    [TriggerJobQuery, 'cascade'],
  ] as const)('%p.%s is true or false only', async (metatype, name) => {
    expect(await accepted(metatype, { [name]: 'true' }, 'query')).toEqual({ [name]: true });
    expect(await accepted(metatype, { [name]: 'false' }, 'query')).toEqual({ [name]: false });
    expect(await accepted(metatype, {}, 'query')).toEqual({});
    for (const junk of ['1', 'yes', '', 'TRUE', ['true', 'true']]) {
      expect(await refusal(metatype, { [name]: junk }, 'query')).toEqual([`${name} must be true or false`]);
    }
    expect(await refusal(metatype, { [name]: 'true', other: 'x' }, 'query')).toEqual([
      'property other should not exist',
    ]);
  });
});
