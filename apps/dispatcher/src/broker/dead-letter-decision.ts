import type { BrokerMessage } from '@app/broker';
import type { RunEntity } from '@app/persistence';

/** What the dead-letter pass does with one dead letter. */
export type DeadLetterDecision =
  { kind: 'fail'; error: string } | { kind: 'republish'; why: string } | { kind: 'drop'; why: string };

/**
 * Reasons that say nothing about the run: a quorum queue's delivery limit (20 by default on RabbitMQ 4.0+, reached by
 * redeliveries: executors that went away holding it, or requeued it while they could not take work) and a length
 * limit (`maxlen`, an operator's policy). The run is published again rather than failed.
 */
const NOT_THE_RUNS_FAULT = new Set(['delivery_limit', 'maxlen']);

/**
 * A dead letter fails its run only when the message names the run as the ledger holds it (id, job, tick key,
 * attempt) and the run is still pending: a forged or stale message can fail no run, and one whose run was started or
 * ended meanwhile is dropped. A message that names no run (not JSON, unknown) is dropped, counted. `expired` (its
 * TTL: the run waited past its deadline) and `rejected` (an executor could not process it) fail the run;
 * `delivery_limit` and `maxlen` have it published again (`queued_at` cleared).
 */
export function deadLetterDecision(
  parsed: BrokerMessage | { problem: string },
  row: Pick<RunEntity, 'id' | 'jobId' | 'tickKey' | 'attempt' | 'status'> | null,
  death: { reason: string; queue: string },
  prefix?: string,
): DeadLetterDecision {
  if ('problem' in parsed) return { kind: 'drop', why: `unprocessable: ${parsed.problem}` };
  if (parsed.kind !== 'run') return { kind: 'drop', why: `a ${parsed.kind} message` };
  if (!row) return { kind: 'drop', why: `run ${parsed.runId} does not exist` };
  if (row.jobId !== parsed.jobId || row.tickKey !== parsed.tickKey || row.attempt !== parsed.attempt) {
    return {
      kind: 'drop',
      why: `run ${parsed.runId} is not job ${parsed.jobId}'s attempt ${parsed.attempt} of tick '${parsed.tickKey}'`,
    };
  }
  if (row.status !== 'pending') return { kind: 'drop', why: `run ${row.id} is ${row.status}` };
  if (prefix !== undefined && !isOwnQueue(death.queue, prefix)) {
    // Anyone who may publish to the dead-letter exchange can write x-death: only our queues' deaths act on a run.
    return { kind: 'drop', why: `dead-lettered from queue ${death.queue}, not a runs or control queue of '${prefix}'` };
  }
  if (NOT_THE_RUNS_FAULT.has(death.reason)) {
    return { kind: 'republish', why: `dead-lettered: ${death.reason} (from queue ${death.queue}): published again` };
  }
  return { kind: 'fail', error: `dead-lettered: ${death.reason} (from queue ${death.queue})` };
}

function isOwnQueue(queue: string, prefix: string): boolean {
  return queue.startsWith(`${prefix}.runs.`) || queue.startsWith(`${prefix}.exec.`);
}
