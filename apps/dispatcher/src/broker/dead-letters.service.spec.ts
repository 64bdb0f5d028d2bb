import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { RunsRepository } from '@app/persistence';
import type { EventsService } from '../events/events.service';
import type { BrokerPublisher } from './broker-publisher.service';
import { DeadLetters } from './dead-letters.service';

describe('DeadLetters', () => {
  it('declares the dead-letter queue again and consumes again when the broker cancels its consumer', async () => {
    let setup: ((ch: ConfirmChannel) => Promise<void>) | null = null;
    const publisher = {
      enabled: true,
      prefix: 'p',
      consumerChannel: (s: (ch: ConfirmChannel) => Promise<void>) => {
        setup = s;
        return { reopen: () => undefined, close: () => Promise.resolve() };
      },
    } as unknown as BrokerPublisher;
    const calls: string[] = [];
    const consumers: ((m: ConsumeMessage | null) => void)[] = [];
    const ch = {
      assertExchange: () => Promise.resolve(),
      bindQueue: () => Promise.resolve(),
      assertQueue: (q: string) => (calls.push(`assert ${q}`), Promise.resolve()),
      prefetch: () => Promise.resolve(),
      consume: (q: string, fn: (m: ConsumeMessage | null) => void) => {
        calls.push(`consume ${q}`);
        consumers.push(fn);
        return Promise.resolve({ consumerTag: `t${consumers.length}` });
      },
    } as unknown as ConfirmChannel;
    const dead = new DeadLetters(publisher, {} as RunsRepository, {} as EventsService);
    dead.onApplicationBootstrap();
    await setup!(ch);
    expect(calls).toEqual(['assert p.dead', 'consume p.dead']);
    consumers[0](null); // the queue was deleted
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['assert p.dead', 'consume p.dead', 'assert p.dead', 'consume p.dead']);
    await dead.onApplicationShutdown();
  });
});
