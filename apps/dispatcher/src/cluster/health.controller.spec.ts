import type { BrokerPublisher } from '../broker/broker-publisher.service';
import { HealthController } from './health.controller';

describe('HealthController broker check', () => {
  const check = (connected: boolean) => {
    const broker = {
      enabled: true,
      connected,
      state: () => ({ url: 'amqp://gocron:***@mq.internal:5672/prod', lastError: 'ACCESS_REFUSED for user gocron' }),
    } as unknown as BrokerPublisher;
    const health = new HealthController({} as never, {} as never, {} as never, {} as never, null, broker);
    return (health as unknown as { brokerCheck(): { status: string; detail: string } }).brokerCheck();
  };

  it('tells the public only the state: no URL, user, host or last error', () => {
    expect(check(true)).toEqual({ status: 'ok', detail: 'connected' });
    const down = check(false);
    expect(down.status).toBe('degraded');
    expect(down.detail).not.toMatch(/gocron|mq\.internal|ACCESS_REFUSED|amqp:/);
  });
});
