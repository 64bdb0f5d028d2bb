import type { RunsRepository } from '@app/persistence';
import type { BrokerRuns } from '../broker/broker-runs.service';
import type { EventsService } from '../events/events.service';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import { RunCanceller } from './run-canceller.service';

/** A running run on executor x of broker group mq; the gRPC Cancel answers as `grpc` says. */
function setup(grpc: () => Promise<unknown>) {
  const finishes: unknown[][] = [];
  const brokerCancels: unknown[][] = [];
  const runs = {
    finish: (...a: unknown[]) => (finishes.push(a), Promise.resolve(true)),
    findById: () => Promise.resolve(null),
  } as unknown as RunsRepository;
  const pool = {
    cancel: grpc,
    executors: () => [{ id: 'x', group: 'mq', address: '127.0.0.1:9' }],
  } as unknown as ExecutorPool;
  const broker = {
    enabled: true,
    isBrokerGroup: (g: string) => g === 'mq',
    cancel: (...a: unknown[]) => (brokerCancels.push(a), Promise.resolve(true)),
  } as unknown as BrokerRuns;
  const canceller = new RunCanceller(runs, pool, { runChanged: () => undefined } as unknown as EventsService, broker);
  const run = { id: 5, status: 'running' as const, executorAddress: '127.0.0.1:9', executorId: 'x' };
  return { canceller, run, finishes, brokerCancels };
}

describe('RunCanceller on an executor of a broker group', () => {
  it('prefers the executor’s gRPC Cancel: stopping, and nothing through the broker', async () => {
    const { canceller, run, finishes, brokerCancels } = setup(() => Promise.resolve({ cancelled: true }));
    expect(await canceller.cancel(run, 'by request')).toEqual({ kind: 'stopping', executorAddress: '127.0.0.1:9' });
    expect(brokerCancels).toEqual([]);
    expect(finishes).toEqual([]);
  });

  it('gRPC unreachable: the control queue too, and `cancelled` recorded (running → cancelled) for the ledger watch', async () => {
    const { canceller, run, finishes, brokerCancels } = setup(() => Promise.reject(new Error('14 UNAVAILABLE')));
    expect(await canceller.cancel(run, 'by request')).toEqual({ kind: 'cancelled' });
    expect(brokerCancels).toEqual([['x', 5, 'by request']]);
    expect(finishes).toHaveLength(1);
    expect(finishes[0][0]).toBe(5);
    expect(finishes[0][1]).toMatchObject({ status: 'cancelled', error: 'by request' });
    expect(finishes[0][2]).toEqual(['running']);
  });
});
