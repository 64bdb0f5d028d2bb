import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ListAllRunsQuery, MAX_RUN_OFFSET } from './list-runs.query';

const problems = (query: Record<string, string>) =>
  validateSync(plainToInstance(ListAllRunsQuery, query)).flatMap((e) => Object.values(e.constraints ?? {}));

describe('ListAllRunsQuery', () => {
  it('pages by offset up to 10,000 and names beforeId beyond, so no request walks the history', () => {
    expect(problems({ offset: String(MAX_RUN_OFFSET) })).toEqual([]);
    expect(problems({ offset: String(MAX_RUN_OFFSET + 1) })).toEqual([
      'offset must be an integer from 0 to 10000 (page deeper with beforeId)',
    ]);
    expect(problems({ offset: '9007199254740991' })).toHaveLength(1);
  });

  it('takes beforeId and jobId up to 2^53 - 1, the ids of a 64-bit ledger', () => {
    expect(problems({ beforeId: '9007199254740991', jobId: '3000000000' })).toEqual([]);
    expect(problems({ beforeId: '0' })).toEqual(['beforeId must be an integer from 1 to 9007199254740991']);
  });
});
