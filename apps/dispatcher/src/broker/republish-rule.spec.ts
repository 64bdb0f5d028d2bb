import { deadLetterDecision } from './dead-letter-decision';
import {
  FRESH_MS,
  messageTtlMs,
  needsPublish,
  PUBLISH_TIMEOUT_MS,
  REPUBLISH_AFTER_MS,
  TTL_GRACE_MS,
} from './republish-rule';

const NOW = Date.UTC(2026, 11, 1);
const run = (queuedAt: number | null, createdAt = NOW - 60_000, notBefore = NOW - 1) =>
  ({ status: 'pending', notBefore, queuedAt, createdAt }) as const;

describe('the republish rule', () => {
  it('publishes a run never confirmed, once its claimer had its chance', () => {
    expect(needsPublish(run(null), NOW)).toBe(true);
    expect(needsPublish(run(null, NOW - FRESH_MS + 1), NOW)).toBe(false);
    // The claimer's publish may wait PUBLISH_TIMEOUT_MS for its confirm, then write queued_at: still its own then.
    expect(FRESH_MS).toBeGreaterThanOrEqual(2 * PUBLISH_TIMEOUT_MS);
    expect(needsPublish(run(null, NOW - PUBLISH_TIMEOUT_MS - 1000), NOW)).toBe(false);
    expect(needsPublish(run(null, NOW - 10_000), NOW)).toBe(true);
  });

  it('leaves a confirmed run alone until it is stale', () => {
    expect(needsPublish(run(NOW - 1000), NOW)).toBe(false);
    expect(needsPublish(run(NOW - REPUBLISH_AFTER_MS + 1), NOW)).toBe(false);
    expect(needsPublish(run(NOW - REPUBLISH_AFTER_MS), NOW)).toBe(true);
  });

  it('publishes nothing not due or not pending', () => {
    expect(needsPublish(run(null, NOW - 60_000, NOW + 1), NOW)).toBe(false);
    expect(needsPublish({ ...run(null), status: 'running' }, NOW)).toBe(false);
  });

  it('gives a message until its deadline and a grace', () => {
    expect(messageTtlMs(NOW + 5000, NOW)).toBe(5000 + TTL_GRACE_MS);
    expect(messageTtlMs(NOW - 5000, NOW)).toBe(TTL_GRACE_MS);
    expect(messageTtlMs(undefined, NOW)).toBeUndefined();
  });
});

describe('deadLetterDecision', () => {
  const msg = { kind: 'run' as const, runId: 5, jobId: 2, tickKey: 's:1', attempt: 1 };
  const row = { id: 5, jobId: 2, tickKey: 's:1', attempt: 1, status: 'pending' as const };
  const death = { reason: 'expired', queue: 'gocron.runs.a' };

  it('fails a pending run the dead letter names as the ledger holds it', () => {
    expect(deadLetterDecision(msg, row, death)).toEqual({
      kind: 'fail',
      error: 'dead-lettered: expired (from queue gocron.runs.a)',
    });
  });

  it('publishes again (does not fail) a run dead-lettered for a delivery or length limit', () => {
    for (const reason of ['delivery_limit', 'maxlen']) {
      expect(deadLetterDecision(msg, row, { reason, queue: 'gocron.runs.a' })).toEqual({
        kind: 'republish',
        why: `dead-lettered: ${reason} (from queue gocron.runs.a): published again`,
      });
    }
    expect(deadLetterDecision(msg, row, { reason: 'rejected', queue: 'gocron.runs.a' }).kind).toBe('fail');
    expect(deadLetterDecision(msg, { ...row, status: 'running' }, { reason: 'maxlen', queue: 'q' }).kind).toBe('drop');
  });

  it('fails no run for a death in a queue that is not one of the prefix’s runs or control queues', () => {
    expect(deadLetterDecision(msg, row, death, 'gocron').kind).toBe('fail');
    expect(deadLetterDecision(msg, row, { reason: 'expired', queue: 'gocron.exec.x' }, 'gocron').kind).toBe('fail');
    const forged = deadLetterDecision(msg, row, { reason: 'expired', queue: 'elsewhere' }, 'gocron');
    expect(forged).toEqual({
      kind: 'drop',
      why: "dead-lettered from queue elsewhere, not a runs or control queue of 'gocron'",
    });
  });

  it('fails no run for a forged key, a run that moved on, or a message naming none', () => {
    expect(deadLetterDecision({ ...msg, tickKey: 'other' }, row, death).kind).toBe('drop');
    expect(deadLetterDecision(msg, { ...row, status: 'running' }, death).kind).toBe('drop');
    expect(deadLetterDecision(msg, null, death).kind).toBe('drop');
    expect(deadLetterDecision({ problem: 'message is not JSON' }, null, death).kind).toBe('drop');
  });
});
