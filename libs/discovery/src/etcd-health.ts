import type { Etcd3 } from 'etcd3';
import { withDeadline } from '@app/common';
import type { HealthCheckJson } from '@app/contract';
import { etcdWatchStates, PrefixWatchState } from './etcd-prefix-cache';

function describeState(s: PrefixWatchState, now: number): string {
  const since = `${Math.round((now - s.since) / 100) / 10} s`;
  switch (s.phase) {
    case 'disconnected':
      return `the watch on ${s.prefix} is disconnected for ${since} (${s.reason}); the client resumes it`;
    case 'relisting':
      return `the watch on ${s.prefix} was lost ${since} ago (${s.reason}); listing again with back-off`;
    case 'listing':
    case 'connecting':
      return `the watch on ${s.prefix} is starting (${s.phase} for ${since})`;
    case 'watching':
    case 'stopped':
      return `the watch on ${s.prefix} is ${s.phase}`;
  }
}

/**
 * The `discovery` health check on etcd: `degraded` when etcd does not answer, or when it answers but one of the
 * client's prefix caches is not watching (disconnected, or re-listing after the client gave its watch up). Either
 * way the last known lists stay in use.
 */
export async function etcdDiscoveryHealth(client: Etcd3, timeoutMs = 1000): Promise<HealthCheckJson> {
  try {
    await withDeadline(client.maintenance.status(), timeoutMs, 'no answer');
  } catch (e) {
    return {
      status: 'degraded',
      detail: `etcd unreachable (${(e as Error).message}); using the last known executors`,
    };
  }
  const now = Date.now();
  const notLive = etcdWatchStates(client).filter((s) => !s.live);
  if (notLive.length > 0) {
    return {
      status: 'degraded',
      detail: `etcd answers, but ${notLive.map((s) => describeState(s, now)).join('; ')}; using the last known list`,
    };
  }
  return { status: 'ok', detail: 'etcd' };
}
