import type { BrokerMessage } from '@app/broker';
import type { LedgerKey, RunEntity } from '@app/persistence';
import type { RunOutcome } from '@app/protocol';

/** The part of a run's row a delivery is judged against. */
export type RunRow = Pick<
  RunEntity,
  'id' | 'jobId' | 'tickKey' | 'attempt' | 'executorKey' | 'scheduledAt' | 'status' | 'notBefore' | 'deadlineAt'
>;

/**
 * What to do with a delivered run message, before any write:
 * - `dead`: it can not be processed (not a message, a cancel on a runs queue, no such run, a broadcast run in this
 *   executor's control queue keyed to an address it does not advertise): rejected without requeue, to `{prefix}.dead`;
 * - `drop`: acked and nothing done (not pending: started or ended elsewhere, a redelivery; another key than the
 *   row's; not due yet; a broadcast run for another executor). The ledger decides: nothing a message says is taken
 *   beyond the key the row must match;
 * - `expire`: past its deadline in the queue: failed (compare-and-set pending → failed) with the reason, then acked;
 * - `start`: the ledger's compare-and-set pending → running, under the row's own key.
 */
export type Delivery =
  | { kind: 'dead'; why: string }
  | { kind: 'drop'; why: string }
  | { kind: 'expire'; error: string }
  | { kind: 'start'; key: LedgerKey };

export function decideDelivery(
  parsed: BrokerMessage | { problem: string },
  row: RunRow | undefined,
  self: { address: string; from: 'runs' | 'control' },
  now: number,
): Delivery {
  if ('problem' in parsed) return { kind: 'dead', why: parsed.problem };
  if (parsed.kind !== 'run') return { kind: 'dead', why: `a ${parsed.kind} message on a runs queue` };
  if (!row) return { kind: 'dead', why: `run ${parsed.runId} does not exist` };
  if (row.jobId !== parsed.jobId || row.tickKey !== parsed.tickKey || row.attempt !== parsed.attempt) {
    return {
      kind: 'drop',
      why: `run ${row.id} is not job ${parsed.jobId}'s attempt ${parsed.attempt} of tick '${parsed.tickKey}' in the ledger`,
    };
  }
  if (row.status !== 'pending') return { kind: 'drop', why: `run ${row.id} is ${row.status}` };
  if (row.executorKey !== '' && row.executorKey !== self.address) {
    if (self.from === 'control') {
      // Routed here by this executor's id, keyed by an address it does not advertise (a static target spelled
      // otherwise than `[executor] advertise`): it would come back every republish and never run. Shown, not hidden.
      return {
        kind: 'dead',
        why:
          `broadcast run ${row.id} is keyed to executor address ${row.executorKey.slice(0, 100)}, but reached the ` +
          `control queue of this executor, which advertises ${self.address}: [executor] advertise must be the address ` +
          `dispatchers know it by`,
      };
    }
    return { kind: 'drop', why: `run ${row.id} is the broadcast run of executor ${row.executorKey}` };
  }
  if (row.deadlineAt < now) {
    return {
      kind: 'expire',
      error: `the run waited in the broker's queue past its deadline (${new Date(row.deadlineAt).toISOString()})`,
    };
  }
  if (row.notBefore > now)
    return { kind: 'drop', why: `run ${row.id} is not due before ${new Date(row.notBefore).toISOString()}` };
  const { id, jobId, tickKey, attempt, executorKey, scheduledAt } = row;
  return { kind: 'start', key: { id, jobId, tickKey, attempt, executorKey, scheduledAt } };
}

/**
 * After the start's compare-and-set: `ack` once the ledger has decided (started here, or not pending: another
 * executor has it or it ended; or it can never start here), `fail` for a job no executor can run (failed, then
 * acked, as the gRPC path's dispatcher does), `requeue` while this executor can not take it now (full, draining, the
 * ledger down: the broker gives it to another executor or again later). The ack never waits for the run's end: the
 * broker closes a channel whose acks wait past its consumer timeout (30 min), and a run may take a day.
 */
export function afterStart(outcome: RunOutcome): 'ack' | 'fail' | 'requeue' {
  if (outcome.accepted) return 'ack';
  switch (outcome.code) {
    case 'NOT_PENDING':
    case 'MISMATCH':
    case 'JOB_GONE': // the dispatcher's pending pass cancels it
    case 'WRONG_GROUP': // the job moved to another group: its queue gets the run (published again when stale)
      return 'ack';
    case 'INVALID':
      return 'fail';
    case 'AT_CAPACITY':
    case 'DRAINING':
    case 'LEDGER_DOWN':
    case '': // refused with no code: as the ledger being down, decided again later
      return 'requeue';
  }
}
