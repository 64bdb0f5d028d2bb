import type { JobEntity, JobsRepository } from '@app/persistence';
import { readJobs } from './job-reads';

const repo = (byId: (id: number) => Promise<JobEntity | null>) =>
  ({
    findByIds: () => Promise.reject(new SyntaxError('Unexpected token } in JSON')),
    findById: byId,
  }) as unknown as JobsRepository;
const job = (id: number) => ({ id }) as JobEntity;

describe('readJobs', () => {
  it('names a job whose row the mapping refuses, and reads the others', async () => {
    const read = await readJobs(
      repo((id) =>
        id === 2 ? Promise.reject(new SyntaxError('Unexpected token } in JSON')) : Promise.resolve(job(id)),
      ),
      [1, 2, 3],
    );
    expect([...read.jobs.keys()]).toEqual([1, 3]);
    expect(read.unreadable).toEqual(new Map([[2, 'Unexpected token } in JSON']]));
  });

  it('fails nothing for a database error on one job: the pass is tried again', async () => {
    const lockWait = Object.assign(new Error('Lock wait timeout exceeded'), { code: 'ER_LOCK_WAIT_TIMEOUT' });
    await expect(
      readJobs(
        repo((id) => (id === 2 ? Promise.reject(lockWait) : Promise.resolve(job(id)))),
        [1, 2, 3],
      ),
    ).rejects.toThrow('Lock wait timeout exceeded');
  });
});
