import type { AppConfig } from '@app/config';
import type { JobsRepository, RunEntity, RunsRepository } from '@app/persistence';
import type { RunCanceller } from '../launching/run-canceller.service';
import type { RunLauncher } from '../launching/run-launcher.service';
import type { BrokerPublisher } from './broker-publisher.service';
import { BrokerPendingRuns, PUBLISH_LIMIT } from './broker-pending.service';

describe('BrokerPendingRuns', () => {
  it('reads on after a full window on the next pass, and from the start again after a short one', async () => {
    const total = PUBLISH_LIMIT + 10;
    const afterIds: number[] = [];
    const runs = {
      findPublishable: (_g: unknown, _now: number, _b: unknown, afterId: number, limit: number) => {
        afterIds.push(afterId);
        const ids = Array.from({ length: total }, (_, i) => i + 1).filter((id) => id > afterId);
        return Promise.resolve(ids.slice(0, limit).map((id) => ({ id, jobId: 1 }) as RunEntity));
      },
    } as unknown as RunsRepository;
    const jobs = {
      findByIds: () => Promise.resolve(new Map([[1, { id: 1, group: 'g' }]])),
    } as unknown as JobsRepository;
    const publisher = { enabled: true, connected: true, isBrokerGroup: () => true } as unknown as BrokerPublisher;
    const launcher = { isOffering: () => false, offer: () => Promise.resolve() } as unknown as RunLauncher;
    const config = { rabbitmq: { groups: ['*'] } } as unknown as AppConfig;
    const pass = new BrokerPendingRuns(config, publisher, runs, jobs, launcher, {} as RunCanceller);
    for (let i = 0; i < 3; i++) await pass.pass(Date.now());
    expect(afterIds).toEqual([0, PUBLISH_LIMIT, 0]);
  });
});
