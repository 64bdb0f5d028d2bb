import type { Options } from 'amqplib';
import type { RabbitMqConfig } from '@app/config';

/**
 * The broker's names (contract, "RabbitMQ"): `{prefix}.runs.{group}` (a group's runs), `{prefix}.exec.{executorId}`
 * (one executor's cancels and broadcast runs), `{prefix}.dead` (the dead-letter exchange and its one queue).
 */
export const brokerNames = {
  runs: (prefix: string, group: string) => `${prefix}.runs.${group}`,
  exec: (prefix: string, executorId: string) => `${prefix}.exec.${executorId}`,
  dead: (prefix: string) => `${prefix}.dead`,
};

/** Whether the group's runs travel through the broker ([rabbitmq] url and groups, `*` for all). */
export function isBrokerGroup(mq: RabbitMqConfig, group: string): boolean {
  return mq.url !== '' && (mq.groups.includes('*') || mq.groups.includes(group));
}

/**
 * An executor's control queue goes away after 30 min unused (an executor id that never comes back: the default id is
 * `hostname-pid`, new at every restart, and each quorum queue is a Raft group of its own). Its executor declares it
 * again every few minutes while it runs, consuming or not. What it held is re-derivable: a broadcast run is published
 * again (the 5-minute republish), a cancel is recorded in the ledger too.
 */
export const EXEC_QUEUE_EXPIRES_MS = 30 * 60 * 1000;

/**
 * Every queue is a durable quorum queue (replicated, fsynced before the publisher's confirm; RabbitMQ 3.8+), whose
 * rejected and expired messages go to the dead-letter exchange with their x-death reason. At-least-once
 * dead-lettering (3.10+, needs `reject-publish` overflow) so that a dead letter is not lost between the queues. No
 * delivery limit of our own (3.x has none; 4.x defaults to 20): executors hand a message back once when they can not
 * take work, never in a loop, and a `delivery_limit` dead letter has its run published again, not failed.
 */
export function queueOptions(prefix: string, kind: 'runs' | 'exec'): Options.AssertQueue {
  return {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': brokerNames.dead(prefix),
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
      ...(kind === 'exec' ? { 'x-expires': EXEC_QUEUE_EXPIRES_MS } : {}),
    },
  };
}

export const DEAD_QUEUE_OPTIONS: Options.AssertQueue = { durable: true, arguments: { 'x-queue-type': 'quorum' } };

/** The part of an amqplib channel topology needs (a ConfirmChannel or a Channel). */
export interface TopologyChannel {
  assertExchange(exchange: string, type: string, options?: Options.AssertExchange): Promise<unknown>;
  assertQueue(queue: string, options?: Options.AssertQueue): Promise<unknown>;
  bindQueue(queue: string, source: string, pattern: string): Promise<unknown>;
}

/** Declares the dead-letter exchange and queue (idempotent: same arguments each time). */
export async function assertDeadLetters(ch: TopologyChannel, prefix: string): Promise<void> {
  const dead = brokerNames.dead(prefix);
  await ch.assertExchange(dead, 'fanout', { durable: true });
  await ch.assertQueue(dead, DEAD_QUEUE_OPTIONS);
  await ch.bindQueue(dead, dead, '');
}
