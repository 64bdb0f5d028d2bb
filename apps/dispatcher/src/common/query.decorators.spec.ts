import { BadRequestException } from '@nestjs/common';
import { IsOptional } from 'class-validator';
import { ApiValidationPipe } from './api-validation.pipe';
import { PageQuery, QueryBoolean, QueryInt } from './query.decorators';

class ProbeQuery extends PageQuery {
  @IsOptional()
  @QueryInt(1, 100)
  count?: number;

  @IsOptional()
  @QueryBoolean()
  enabled?: boolean;
}

const pipe = new ApiValidationPipe();

/** The query as the pipe hands it to a controller, or the 400's messages. */
async function parse(query: Record<string, unknown>): Promise<ProbeQuery | string[]> {
  try {
    return (await pipe.transform(query, { type: 'query', metatype: ProbeQuery })) as ProbeQuery;
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestException);
    const { message } = (e as BadRequestException).getResponse() as { message: string[] };
    return message;
  }
}

describe('query parameters', () => {
  it('reads integers written in decimal digits, with the defaults when left out', async () => {
    expect(await parse({})).toMatchObject({ limit: 50, offset: 0 });
    expect(await parse({ limit: '500', offset: '0', count: '7' })).toMatchObject({ limit: 500, offset: 0, count: 7 });
    expect(await parse({ enabled: 'false' })).toMatchObject({ enabled: false });
  });

  // A query string has no null: what stands for "nothing" there is an empty value, refused like any other non-number.
  it.each(['', ' 5', '1e2', '0x10', '1.0', '+3', 'null', '5abc'])(
    'refuses offset=%p naming the parameter',
    async (text) => {
      expect(await parse({ offset: text })).toEqual([`offset must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`]);
    },
  );

  it('refuses a parameter given twice, and booleans other than true or false', async () => {
    expect(await parse({ limit: ['1', '2'] })).toEqual(['limit must be an integer from 1 to 500']);
    expect(await parse({ enabled: '' })).toEqual(['enabled must be true or false']);
    expect(await parse({ enabled: ['true', 'false'] })).toEqual(['enabled must be true or false']);
    expect(((await parse({ limit: '0', count: '101' })) as string[]).sort()).toEqual([
      'count must be an integer from 1 to 100',
      'limit must be an integer from 1 to 500',
    ]);
  });
});
