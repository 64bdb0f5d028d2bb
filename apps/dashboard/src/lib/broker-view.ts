// How the broker page words what GET /api/broker returns: counts the broker could not give, and what each queue is.
import type { BrokerQueueJson } from '@app/contract';

/** A count, or "–" when there is none (`unacked` always; every count when the broker could not be asked). */
export function formatCount(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : String(n);
}

/** What a queue holds, in words: "runs of group batch", "control queue of executor exec-1", "dead letters". */
export function queueRole(q: Pick<BrokerQueueJson, 'kind' | 'group' | 'executorId'>): string {
  switch (q.kind) {
    case 'runs':
      return q.group !== undefined ? `runs of group ${q.group}` : 'runs';
    case 'exec':
      return q.executorId !== undefined ? `control queue of executor ${q.executorId}` : 'control queue';
    case 'dead':
      return 'dead letters';
  }
}

/** The configured broker groups as one line: `*` means every group. */
export function formatGroups(groups: string[]): string {
  if (groups.length === 0) return 'none';
  return groups.includes('*') ? 'every group (*)' : groups.join(', ');
}
