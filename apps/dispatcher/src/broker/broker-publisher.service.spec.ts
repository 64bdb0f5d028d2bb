import { EventEmitter } from 'events';
import { dirname, join } from 'path';
import type { AppConfig } from '@app/config';
import { BrokerPublisher } from './broker-publisher.service';

/** The real ChannelWrapper of amqp-connection-manager (not exported as a value by its package's entry). */
type Wrapper = new (manager: unknown, opts: unknown) => EventEmitter;
const wrapperPath = join(dirname(require.resolve('amqp-connection-manager')), 'ChannelWrapper.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ChannelWrapper = (require(wrapperPath) as { default: Wrapper }).default;

const URL = 'amqp://gocron:hunter2@broker.test:5672';
const config = { rabbitmq: { url: URL, groups: ['*'], prefix: 'p' }, dispatcher: { id: 'd1' } } as unknown as AppConfig;

/** A connection manager whose channels are real ChannelWrappers over fake amqplib channels. */
function fakeConnection() {
  const channels: EventEmitter[] = [];
  const amqpConnection = {
    createChannel: () => {
      const ch = Object.assign(new EventEmitter(), { close: () => Promise.resolve() });
      channels.push(ch);
      return Promise.resolve(ch);
    },
  };
  const manager = Object.assign(new EventEmitter(), {
    connection: amqpConnection,
    isConnected: () => true,
    createChannel: (opts: unknown) => new ChannelWrapper(manager, opts),
  });
  return { manager, channels };
}

describe('BrokerPublisher.consumerChannel', () => {
  it('notes a setup the broker refused (masked) instead of crashing, and tries again on a new channel', async () => {
    const publisher = new BrokerPublisher(config);
    const { manager, channels } = fakeConnection();
    (publisher as unknown as { connection: unknown }).connection = manager;
    let setups = 0;
    const consumer = publisher.consumerChannel(
      () => {
        setups++;
        return Promise.reject(new Error(`Channel closed by server: 406 (PRECONDITION-FAILED) on ${URL}`));
      },
      'dead-letter channel',
      20,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(setups).toBeGreaterThanOrEqual(2);
    expect(channels.length).toBeGreaterThanOrEqual(2);
    const { lastError } = publisher.state();
    expect(lastError).toMatch(/^dead-letter channel: .*PRECONDITION-FAILED/);
    expect(lastError).not.toContain('hunter2');
    await consumer?.close();
    const after = setups;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(setups).toBe(after); // closed: no more tries
  });
});

describe('BrokerPublisher return handling', () => {
  it('forgets a queue the broker could not route to (NO_ROUTE: deleted), so the next publish declares it again', () => {
    const publisher = new BrokerPublisher(config);
    const declared = new Set(['p.runs.a', 'p.runs.b']);
    (publisher as unknown as { declared: Set<string> }).declared = declared;
    publisher.onReturn({
      fields: { replyCode: 312, routingKey: 'p.runs.a' },
      properties: { messageId: 'm1' },
    } as never);
    expect([...declared]).toEqual(['p.runs.b']);
    publisher.onReturn({
      fields: { replyCode: 313, routingKey: 'p.runs.b' },
      properties: { messageId: 'm2' },
    } as never);
    expect([...declared]).toEqual(['p.runs.b']);
  });
});

describe('BrokerPublisher.publish', () => {
  it('forgets a returned message id whose publish then failed (no slow leak)', async () => {
    const publisher = new BrokerPublisher(config);
    const internals = publisher as unknown as {
      connection: unknown;
      channel: unknown;
      declared: Set<string>;
      returned: Set<string>;
    };
    internals.connection = { isConnected: () => true };
    internals.declared = new Set(['p.runs.g']);
    internals.channel = {
      publish: (_e: string, queue: string, _c: Buffer, opts: { messageId: string }) => {
        publisher.onReturn({ fields: { replyCode: 312, routingKey: queue }, properties: opts } as never);
        return Promise.reject(new Error('timed out'));
      },
    };
    const ok = await publisher.publish([
      { message: { kind: 'run', runId: 1, jobId: 1, tickKey: 't', attempt: 1 }, queue: { kind: 'runs', group: 'g' } },
    ]);
    expect(ok).toEqual([false]);
    expect(internals.returned.size).toBe(0);
  });
});

describe('BrokerPublisher declares', () => {
  it('fails only the messages of a queue it can not declare, not the whole batch', async () => {
    const publisher = new BrokerPublisher(config);
    const internals = publisher as unknown as { connection: unknown; channel: unknown };
    const opened: string[] = [];
    internals.connection = {
      isConnected: () => true,
      connection: {
        createChannel: () => {
          opened.push('channel');
          return Promise.resolve({
            on: () => undefined,
            assertQueue: (q: string) =>
              q === 'p.exec.bad' ? Promise.reject(new Error('406 PRECONDITION_FAILED')) : Promise.resolve(),
            close: () => Promise.resolve(),
          });
        },
      },
    };
    internals.channel = { publish: () => Promise.resolve() };
    const run = (runId: number) => ({ kind: 'run' as const, runId, jobId: 1, tickKey: 't', attempt: 1 });
    const ok = await publisher.publish([
      { message: run(1), queue: { kind: 'exec', executorId: 'bad' } },
      { message: run(2), queue: { kind: 'runs', group: 'g' } },
      { message: run(3), queue: { kind: 'exec', executorId: 'good' } },
    ]);
    expect(ok).toEqual([false, true, true]);
    expect(opened).toHaveLength(2); // a new channel after the one the broker closed
    expect(publisher.state().lastError).toMatch(/cannot declare the queue p\.exec\.bad/);
  });
});

describe('BrokerPublisher.queueStats', () => {
  it('asks the broker at most once a second for the same queues', async () => {
    const publisher = new BrokerPublisher(config);
    let channels = 0;
    (publisher as unknown as { connection: unknown }).connection = {
      isConnected: () => true,
      connection: {
        createChannel: () => {
          channels++;
          return Promise.resolve({
            on: () => undefined,
            checkQueue: () => Promise.resolve({ messageCount: 2, consumerCount: 1 }),
            close: () => Promise.resolve(),
          });
        },
      },
    };
    const [a, b] = await Promise.all([publisher.queueStats(['q']), publisher.queueStats(['q'])]);
    expect(a).toEqual([{ name: 'q', ready: 2, consumers: 1 }]);
    expect(b).toEqual(a);
    expect(channels).toBe(1);
    await publisher.queueStats(['q', 'r']);
    expect(channels).toBe(2);
  });
});
