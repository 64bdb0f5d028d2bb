import { EgressPolicy } from '@app/common';
import type { AppConfig } from '@app/config';
import { serviceEndpoints } from './notifications.service';

const config = (over: { db?: 'mysql' | 'sqlite'; redis?: string; rabbitmq?: string } = {}) =>
  ({
    database: { type: over.db ?? 'mysql', host: '127.0.0.1', port: 3306 },
    redis: { url: over.redis ?? 'redis://127.0.0.1:6379' },
    rabbitmq: { url: over.rabbitmq ?? 'amqp://guest:guest@127.0.0.1' },
  }) as AppConfig;

describe("notifications: the installation's own services are refused", () => {
  it('names the database, Redis and RabbitMQ endpoints, default ports where the URL gives none', () => {
    expect(serviceEndpoints(config())).toEqual([
      { host: '127.0.0.1', port: 3306, what: 'the database ([database] host)' },
      { host: '127.0.0.1', port: 6379, what: 'Redis ([redis] url)' },
      { host: '127.0.0.1', port: 5672, what: 'RabbitMQ ([rabbitmq] url)' },
    ]);
    expect(serviceEndpoints(config({ db: 'sqlite', redis: '', rabbitmq: 'amqp://[::1]:5673' }))).toEqual([
      { host: '::1', port: 5673, what: 'RabbitMQ ([rabbitmq] url)' },
    ]);
  });

  it('refuses a webhook aimed at them, on the same address and on IPv4-mapped IPv6, and not another port', () => {
    const policy = new EgressPolicy([], [], () => serviceEndpoints(config()));
    expect(policy.refusal('127.0.0.1', 6379)).toMatch(/Redis/);
    expect(policy.refusal('::ffff:127.0.0.1', 3306)).toMatch(/database/);
    expect(policy.refusal('127.0.0.1', 5672)).toMatch(/RabbitMQ/);
    expect(policy.refusal('127.0.0.1', 8099)).toBeNull();
  });
});
