import { createHash } from 'node:crypto';
import type { ExecutorInfo } from '@app/discovery';
import type { Routing } from '@app/persistence';

/**
 * Orders the executors of a group by preference for one run: the first is tried first, the rest are the failover
 * order when it is busy or unavailable. Broadcast is handled by the caller (one run per executor).
 */
export function rankExecutors(
  routing: Routing,
  jobId: number,
  candidates: ExecutorInfo[],
  rotation: { next: number },
  random: () => number = Math.random,
): ExecutorInfo[] {
  const list = candidates.filter((e) => !e.draining);
  if (list.length <= 1) return list;
  switch (routing) {
    case 'round_robin':
    case 'broadcast': {
      const sorted = [...list].sort((a, b) => a.address.localeCompare(b.address));
      const start = rotation.next++ % sorted.length;
      return [...sorted.slice(start), ...sorted.slice(0, start)];
    }
    case 'random': {
      const shuffled = [...list];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      return shuffled;
    }
    case 'least_busy':
      return [...list].sort(
        (a, b) =>
          a.running / Math.max(a.capacity, 1) - b.running / Math.max(b.capacity, 1) ||
          a.address.localeCompare(b.address),
      );
    case 'consistent_hash':
      return rendezvous(jobId, list);
  }
}

/**
 * Rendezvous (highest random weight) hashing of the job id onto advertise addresses: a job stays on its executor
 * while that executor is up, whatever else joins or leaves, and a restart at the same address keeps the mapping.
 */
function rendezvous(jobId: number, list: ExecutorInfo[]): ExecutorInfo[] {
  const weight = (e: ExecutorInfo) => createHash('sha1').update(`${jobId}|${e.address}`).digest().readUInt32BE(0);
  return [...list]
    .map((e) => ({ e, w: weight(e) }))
    .sort((a, b) => b.w - a.w || a.e.address.localeCompare(b.e.address))
    .map((x) => x.e);
}
