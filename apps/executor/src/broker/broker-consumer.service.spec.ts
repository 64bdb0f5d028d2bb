import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { AppConfig } from '@app/config';
import { encodeMessage } from '@app/broker';
import type { RunsRepository } from '@app/persistence';
import { ActiveRuns } from '../tasks/active-runs';
import type { LedgerWatch } from '../tasks/ledger-watch.service';
import type { Presence } from '../tasks/presence.service';
import { TasksService } from '../tasks/tasks.service';
import { BrokerConsumer } from './broker-consumer.service';

const config = {
  executor: { capacity: 1, group: 'g', id: 'x', advertise: '127.0.0.1:1' },
  rabbitmq: { url: 'amqp://h', groups: ['*'], prefix: 'p' },
} as unknown as AppConfig;

const row = {
  id: 7,
  jobId: 3,
  tickKey: 's:1',
  attempt: 1,
  executorKey: '',
  scheduledAt: Date.now(),
  status: 'pending',
  notBefore: 0,
  deadlineAt: Date.now() + 60_000,
};

const message = (): ConsumeMessage =>
  ({
    content: encodeMessage({ kind: 'run', runId: 7, jobId: 3, tickKey: 's:1', attempt: 1 }),
    properties: {},
    fields: {},
  }) as unknown as ConsumeMessage;

/** The consumer over fakes: a full executor (capacity 1, one slot held), a channel that records settlements. */
function setup() {
  const finishes: unknown[][] = [];
  const runs = {
    findByIds: () => Promise.resolve([row]),
    finish: (...a: unknown[]) => {
      finishes.push(a);
      return Promise.resolve(true);
    },
  } as unknown as RunsRepository;
  const active = new ActiveRuns();
  const presence = { draining: false } as Presence;
  const ledger = { notReadyReason: () => null } as unknown as LedgerWatch;
  const tasks = new TasksService(config, {} as never, {} as never, active, {} as never, presence, ledger, {} as never);
  const consumer = new BrokerConsumer(config, runs, tasks, active, ledger);
  const settled: string[] = [];
  const ch = {
    ack: () => settled.push('ack'),
    nack: (_m: unknown, _all: boolean, requeue: boolean) => settled.push(requeue ? 'requeue' : 'dead'),
  } as unknown as ConfirmChannel;
  (consumer as unknown as { channel: ConfirmChannel }).channel = ch;
  const handle = (n: number) =>
    (consumer as unknown as { handle(b: { ch: ConfirmChannel; msg: ConsumeMessage }[]): Promise<void> }).handle(
      Array.from({ length: n }, () => ({ ch, msg: message() })),
    );
  return { consumer, active, finishes, settled, handle };
}

describe('BrokerConsumer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('judges two copies of one run in a batch once: a full executor fails nothing, one copy goes back', async () => {
    const { active, finishes, settled, handle } = setup();
    active.reserve(999, 1); // full
    await handle(2);
    await jest.advanceTimersByTimeAsync(1000);
    expect(finishes).toEqual([]);
    expect(settled.sort()).toEqual(['ack', 'requeue']);
  });
});
