// How the dashboard words sharding (CONTRACT.md, "Sharing the work among dispatchers"): the shards a dispatcher
// holds and the dispatcher that owns a job.
import type { JobJson } from '@app/contract';

/** "86 shards", "1 shard", "no shards". */
export function shardCount(n: number): string {
  if (n === 0) return 'no shards';
  return n === 1 ? '1 shard' : `${n} shards`;
}

/** Shard numbers as runs, in order, each once: [0, 1, 2, 3, 7, 9, 10] → "0–3, 7, 9–10"; "none" for none. */
export function shardRanges(shards: readonly number[]): string {
  const sorted = [...new Set(shards)].sort((a, b) => a - b);
  if (sorted.length === 0) return 'none';
  const runs: string[] = [];
  let first = sorted[0];
  let last = first;
  for (const n of sorted.slice(1)) {
    if (n === last + 1) {
      last = n;
      continue;
    }
    runs.push(first === last ? `${first}` : `${first}–${last}`);
    first = last = n;
  }
  runs.push(first === last ? `${first}` : `${first}–${last}`);
  return runs.join(', ');
}

/** Why a job has no owner: paused jobs are planned by no one; otherwise this dispatcher cannot see etcd's word. */
export function ownerNote(job: Pick<JobJson, 'enabled' | 'owner'>): string | null {
  if (job.owner !== null) return null;
  return job.enabled ? "not known: this dispatcher's view of etcd is not live" : 'none while paused';
}
