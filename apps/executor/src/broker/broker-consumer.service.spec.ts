import { EventEmitter } from 'events';
import { dirname, join } from 'path';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { AppConfig } from '@app/config';
import { encodeMessage } from '@app/broker';
import type { RunsRepository } from '@app/persistence';
import type { RunOutcome, RunRequest } from '@app/protocol';
import { ActiveRuns } from '../tasks/active-runs';
import type { LedgerWatch } from '../tasks/ledger-watch.service';
import type { Presence } from '../tasks/presence.service';
import { TasksService } from '../tasks/tasks.service';
import { BrokerConsumer } from './broker-consumer.service';

const config = (capacity = 1) =>
  ({
    executor: { capacity, group: 'g', id: 'x', advertise: '127.0.0.1:1' },
    rabbitmq: { url: 'amqp://h', groups: ['*'], prefix: 'p' },
  }) as unknown as AppConfig;

const row = (id: number) => ({
  id,
  jobId: 3,
  tickKey: 's:1',
  attempt: 1,
  executorKey: '',
  scheduledAt: Date.now(),
  status: 'pending',
  notBefore: 0,
  deadlineAt: Date.now() + 3_600_000,
});

const runMessage = (runId = 7): ConsumeMessage =>
  ({
    content: encodeMessage({ kind: 'run', runId, jobId: 3, tickKey: 's:1', attempt: 1 }),
    properties: {},
    fields: {},
  }) as unknown as ConsumeMessage;

const cancelMessage = (runId: number): ConsumeMessage =>
  ({ content: encodeMessage({ kind: 'cancel', runId, reason: 'stop' }), properties: {}, fields: {} }) as never;

const text = (m: ConsumeMessage) => m.content.toString();

/** A channel that records consumers, settlements and calls; each RPC takes `delayMs` (fake timers). */
function fakeChannel(delayMs = 0) {
  let prefetch = 0;
  let n = 0;
  const consumers = new Map<string, { queue: string; prefetch: number; fn: (m: ConsumeMessage | null) => void }>();
  const calls: string[] = [];
  const settled: string[] = [];
  const rpc = () => (delayMs > 0 ? new Promise((resolve) => setTimeout(resolve, delayMs)) : Promise.resolve());
  const ch = {
    assertExchange: rpc,
    bindQueue: rpc,
    assertQueue: async (q: string) => {
      calls.push(`assert ${q}`);
      await rpc();
    },
    prefetch: async (p: number) => {
      await rpc();
      prefetch = p;
    },
    consume: async (queue: string, fn: (m: ConsumeMessage | null) => void) => {
      await rpc();
      const tag = `t${++n}`;
      consumers.set(tag, { queue, prefetch, fn });
      calls.push(`consume ${queue} ${prefetch}`);
      return { consumerTag: tag };
    },
    cancel: async (tag: string) => {
      calls.push(`cancel ${consumers.get(tag)?.queue}`);
      await rpc();
      consumers.delete(tag);
    },
    ack: (m: ConsumeMessage) => settled.push(`ack ${m.content.toString()}`),
    nack: (m: ConsumeMessage, _all: boolean, requeue: boolean) =>
      settled.push(`${requeue ? 'requeue' : 'dead'} ${m.content.toString()}`),
  };
  const on = (queue: string) => [...consumers.values()].filter((c) => c.queue === queue);
  return { ch: ch as unknown as ConfirmChannel, consumers, on, calls, settled };
}

/** The consumer over fakes; `tasks` is a real TasksService unless a fake is given. */
function setup(opts: { capacity?: number; listed?: boolean; tasks?: Partial<TasksService> } = {}) {
  const cfg = config(opts.capacity);
  const finishes: unknown[][] = [];
  const ledgerState = { readFails: false, probeFails: false };
  const runs = {
    findByIds: (ids: number[]) =>
      ledgerState.readFails
        ? Promise.reject(new Error('db down'))
        : Promise.resolve(ids.map((id) => (id === 666 ? { ...row(id), scheduledAt: NaN } : row(id)))),
    findStatuses: () => (ledgerState.probeFails ? Promise.reject(new Error('db down')) : Promise.resolve([])),
    finish: (...a: unknown[]) => {
      finishes.push(a);
      return Promise.resolve(true);
    },
  } as unknown as RunsRepository;
  const active = new ActiveRuns();
  const listeners: (() => void)[] = [];
  const presence = {
    draining: false,
    inDiscovery: opts.listed ?? true,
    onDiscoveryChange: (l: () => void) => listeners.push(l),
  } as unknown as Presence & { inDiscovery: boolean };
  const setListed = (listed: boolean) => {
    presence.inDiscovery = listed;
    for (const l of listeners) l();
  };
  const ledger = {
    notReadyReason: () => null,
    schemaReady: () => new Promise(() => undefined), // never connects: the tests drive setup themselves
  } as unknown as LedgerWatch;
  const tasks = (opts.tasks ??
    new TasksService(
      cfg,
      {} as never,
      {} as never,
      active,
      {} as never,
      presence,
      ledger,
      {} as never,
      {} as never,
    )) as TasksService;
  const consumer = new BrokerConsumer(cfg, runs, tasks, active, ledger, presence);
  consumer.onApplicationBootstrap();
  const internals = consumer as unknown as {
    channel: ConfirmChannel;
    setup(ch: ConfirmChannel): Promise<void>;
    handle(b: { ch: ConfirmChannel; msg: ConsumeMessage; from: 'runs' | 'control' }[]): Promise<void>;
  };
  return { consumer, internals, active, finishes, ledgerState, setListed };
}

const accepting = () => {
  const started: number[] = [];
  const tasks = {
    startMany: (reqs: RunRequest[]): Promise<RunOutcome[]> => {
      started.push(...reqs.map((r) => r.runId));
      return Promise.resolve(reqs.map((r) => ({ runId: r.runId, accepted: true, code: '', message: '' })));
    },
    cancel: () => {
      throw new Error('boom');
    },
  } as unknown as Partial<TasksService>;
  return { tasks, started };
};

describe('BrokerConsumer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('M1: judges two copies of one run in a batch once: a full executor fails nothing, one copy goes back', async () => {
    const { internals, active, finishes } = setup();
    const { ch, settled } = fakeChannel();
    internals.channel = ch;
    active.reserve(999, 1); // full
    await internals.handle([
      { ch, msg: runMessage(), from: 'runs' },
      { ch, msg: runMessage(), from: 'runs' },
    ]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(finishes).toEqual([]);
    expect(settled.map((s) => s.split(' ')[0]).sort()).toEqual(['ack', 'requeue']);
  });

  it('S1: a run ending while setup declares the queues does not make a second runs consumer', async () => {
    const { internals, active } = setup({ capacity: 4 });
    const { ch, on } = fakeChannel(5);
    active.reserve(1, 1);
    const done = internals.setup(ch);
    setTimeout(() => active.release(1), 2);
    await jest.advanceTimersByTimeAsync(200);
    await done;
    expect(on('p.runs.g').map((c) => c.prefetch)).toEqual([4]);
    expect(on('p.exec.x').map((c) => c.prefetch)).toEqual([4]);
  });

  it('M4: the ledger down: consumers cancelled first, in-flight requeued once, subscribed again once it answers', async () => {
    const { internals, ledgerState } = setup({ capacity: 4 });
    const { ch, on, calls, settled } = fakeChannel();
    await internals.setup(ch);
    expect(on('p.runs.g')).toHaveLength(1);
    ledgerState.readFails = true;
    ledgerState.probeFails = true;
    const [runs] = on('p.runs.g');
    runs.fn(runMessage(7));
    runs.fn(runMessage(8));
    await jest.advanceTimersByTimeAsync(10);
    expect(settled.sort()).toEqual([`requeue ${text(runMessage(7))}`, `requeue ${text(runMessage(8))}`]);
    expect(on('p.runs.g')).toEqual([]);
    expect(on('p.exec.x')).toEqual([]);
    // The cancels went out before the nacks, so the broker does not hand them back here.
    expect(calls.filter((c) => c.startsWith('cancel'))).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(20_000);
    expect(settled).toHaveLength(2); // no bounce loop
    expect(on('p.runs.g')).toEqual([]);
    ledgerState.readFails = false;
    ledgerState.probeFails = false;
    await jest.advanceTimersByTimeAsync(30_000);
    expect(on('p.runs.g').map((c) => c.prefetch)).toEqual([4]);
  });

  it('M2: consumes only while listed in discovery; a lost lease cancels and requeues what is in flight', async () => {
    const { tasks, started } = accepting();
    const { internals, setListed } = setup({ capacity: 4, listed: false, tasks });
    const { ch, on, settled } = fakeChannel();
    await internals.setup(ch);
    expect(on('p.runs.g')).toEqual([]);
    expect(on('p.exec.x')).toEqual([]);
    setListed(true);
    await jest.advanceTimersByTimeAsync(10);
    expect(on('p.runs.g')).toHaveLength(1);
    expect(on('p.exec.x')).toHaveLength(1);

    on('p.runs.g')[0].fn(runMessage(7));
    setListed(false); // the lease is lost before the delivery is judged
    await jest.advanceTimersByTimeAsync(10);
    expect(started).toEqual([]);
    expect(settled).toEqual([`requeue ${text(runMessage(7))}`]);
    expect(on('p.runs.g')).toEqual([]);
    expect(on('p.exec.x')).toEqual([]);

    setListed(true); // registered again
    await jest.advanceTimersByTimeAsync(10);
    expect(on('p.runs.g')).toHaveLength(1);
  });

  it('N2: a delivery that throws is requeued, the rest of the batch is settled, nothing is left unhandled', async () => {
    const { tasks, started } = accepting();
    const { internals } = setup({ capacity: 4, tasks });
    const { ch, on, settled } = fakeChannel();
    await internals.setup(ch);
    on('p.exec.x')[0].fn(cancelMessage(5)); // tasks.cancel throws: logged, acked
    on('p.runs.g')[0].fn(runMessage(666)); // a row whose instant can not be written: the judging throws
    on('p.runs.g')[0].fn(runMessage(7));
    await jest.advanceTimersByTimeAsync(10);
    expect(started).toEqual([7]);
    expect(settled.sort()).toEqual([
      `ack ${text(cancelMessage(5))}`,
      `ack ${text(runMessage(7))}`,
      `requeue ${text(runMessage(666))}`,
    ]);
    expect(on('p.runs.g')).toHaveLength(1);
  });

  it('N7: honors a cancel only from its control queue; one on the runs queue is dead-lettered', async () => {
    const cancelled: number[] = [];
    const tasks = { cancel: (runId: number) => cancelled.push(runId) } as unknown as Partial<TasksService>;
    const { internals } = setup({ capacity: 4, tasks });
    const { ch, on, settled } = fakeChannel();
    await internals.setup(ch);
    on('p.runs.g')[0].fn(cancelMessage(5));
    on('p.exec.x')[0].fn(cancelMessage(6));
    await jest.advanceTimersByTimeAsync(10);
    expect(cancelled).toEqual([6]);
    expect(settled.sort()).toEqual([`ack ${text(cancelMessage(6))}`, `dead ${text(cancelMessage(5))}`]);
  });

  it('N1: a run whose start here is under way (slot reserved, still pending) is requeued after a pause, not acked', async () => {
    const { tasks, started } = accepting();
    const { internals, active } = setup({ capacity: 4, tasks });
    const { ch, on, settled } = fakeChannel();
    await internals.setup(ch);
    active.reserve(7, 3); // a start on the old channel, its compare-and-set in flight
    on('p.runs.g')[0].fn(runMessage(7));
    await jest.advanceTimersByTimeAsync(10);
    expect(settled).toEqual([]);
    expect(started).toEqual([]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(settled).toEqual([`requeue ${text(runMessage(7))}`]);
  });

  it('S3: a consumer the broker cancelled (queue deleted) is subscribed again after declaring its queue', async () => {
    const { internals } = setup({ capacity: 4 });
    const { ch, on, consumers, calls } = fakeChannel();
    await internals.setup(ch);
    const [tag] = [...consumers.entries()].find(([, c]) => c.queue === 'p.runs.g')!;
    const { fn } = consumers.get(tag)!;
    consumers.delete(tag); // the broker let go of it
    calls.length = 0;
    fn(null);
    await jest.advanceTimersByTimeAsync(10);
    expect(calls).toEqual(['assert p.runs.g', 'consume p.runs.g 4']);
    expect(on('p.runs.g')).toHaveLength(1);
  });

  it('M3: a channel setup the broker refused is logged and tried again on a new channel, never thrown', async () => {
    jest.useRealTimers();
    type Wrapper = new (manager: unknown, opts: unknown) => EventEmitter;
    const wrapperPath = join(dirname(require.resolve('amqp-connection-manager')), 'ChannelWrapper.js');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ChannelWrapper = (require(wrapperPath) as { default: Wrapper }).default;
    let channels = 0;
    const amqpConnection = {
      createConfirmChannel: () => {
        channels++;
        const refuse = () => Promise.reject(new Error('Channel closed by server: 406 (PRECONDITION-FAILED)'));
        return Promise.resolve(
          Object.assign(new EventEmitter(), { close: () => Promise.resolve(), assertExchange: refuse }),
        );
      },
    };
    const manager = Object.assign(new EventEmitter(), {
      connection: amqpConnection,
      isConnected: () => true,
      close: () => Promise.resolve(),
      createChannel: (opts: unknown) => new ChannelWrapper(manager, opts),
    });
    const { consumer } = setup();
    const internals = consumer as unknown as { connection: unknown; openChannel(): void };
    internals.connection = manager;
    internals.openChannel();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(channels).toBeGreaterThanOrEqual(2);
    await consumer.beforeApplicationShutdown();
  });
});
