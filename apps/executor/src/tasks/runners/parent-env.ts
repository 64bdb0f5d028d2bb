import { PARENT_OUTPUT_TAIL_BYTES } from '@app/contract';
import type { ParentContext, ParentRun } from './task-runner';

/**
 * The executor's own: a job's variables of this prefix are never passed on (whether or not the run is a dependency
 * run), so a task reading `GOCRON_PARENT_*` reads what the ledger says of its parents, not what a job author wrote.
 */
export const PARENT_ENV_PREFIX = 'GOCRON_PARENT_';
export const PARENT_RUN_IDS_HEADER = 'X-Gocron-Parent-Run-Ids';

const UTF8_CONTINUATION_MASK = 0xc0;
const UTF8_CONTINUATION = 0x80;

/**
 * The last `maxBytes` bytes of a parent's stored output (UTF-8; the ledger may hand over only its tail, which can
 * start inside a character), cut where a character starts, so up to 3 bytes shorter; then without its NUL bytes:
 * an environment value ends at the first one, and spawn refuses a value that holds one. The stored output is
 * already masked of the parent's secrets; nothing is unmasked here.
 */
export function parentOutputTail(stored: Buffer | string, maxBytes = PARENT_OUTPUT_TAIL_BYTES): string {
  const bytes = typeof stored === 'string' ? Buffer.from(stored, 'utf8') : stored;
  let start = Math.max(0, bytes.length - maxBytes);
  while (start < bytes.length && (bytes[start] & UTF8_CONTINUATION_MASK) === UTF8_CONTINUATION) start++;
  const tail = bytes.subarray(start).toString('utf8');
  return tail.includes('\0') ? tail.replace(/\0/g, '') : tail;
}

/**
 * A dependency run's variables, written over `env` (after the job's own): `GOCRON_PARENT_RUN_IDS`, and per parent
 * job `GOCRON_PARENT_EXIT_CODE_<jobId>`, `GOCRON_PARENT_HTTP_STATUS_<jobId>` (each only when the run has one) and
 * `GOCRON_PARENT_OUTPUT_<jobId>`. Of two parent runs of one job (a broadcast parent), the higher id speaks for it.
 */
export function putParentEnv(env: Record<string, string>, parents: ParentContext): void {
  env.GOCRON_PARENT_RUN_IDS = parents.runIds.join(',');
  for (const run of latestPerJob(parents.runs)) {
    if (run.exitCode !== null) env[`${PARENT_ENV_PREFIX}EXIT_CODE_${run.jobId}`] = String(run.exitCode);
    if (run.httpStatus !== null) env[`${PARENT_ENV_PREFIX}HTTP_STATUS_${run.jobId}`] = String(run.httpStatus);
    env[`${PARENT_ENV_PREFIX}OUTPUT_${run.jobId}`] = run.outputTail;
  }
}

/** The run of each job with the highest id: a whole run per job, never one run's exit code beside another's output. */
function latestPerJob(runs: readonly ParentRun[]): ParentRun[] {
  const latest = new Map<number, ParentRun>();
  for (const run of runs) {
    const kept = latest.get(run.jobId);
    if (!kept || run.id > kept.id) latest.set(run.jobId, run);
  }
  return [...latest.values()];
}
