/**
 * What travels through the broker: a run's ledger key (runId, jobId, tickKey, attempt) and nothing runnable, or a
 * cancel. The executor trusts a message no further than that key: it reads the run and its job from the ledger, and
 * starts the run only through the ledger's compare-and-set under the row's own key.
 */
export type BrokerMessage =
  | { kind: 'run'; runId: number; jobId: number; tickKey: string; attempt: number }
  | { kind: 'cancel'; runId: number; reason: string };

/** Bytes a message may have: a run's is ≈ 100, a cancel's reason is cut at 500 characters. */
export const MESSAGE_MAX_BYTES = 4096;
const TICK_KEY_MAX = 64;
export const CANCEL_REASON_MAX = 500;

export function encodeMessage(m: BrokerMessage): Buffer {
  const body =
    m.kind === 'run'
      ? { v: 1, kind: m.kind, runId: m.runId, jobId: m.jobId, tickKey: m.tickKey, attempt: m.attempt }
      : { v: 1, kind: m.kind, runId: m.runId, reason: m.reason.slice(0, CANCEL_REASON_MAX) };
  return Buffer.from(JSON.stringify(body));
}

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/** The message, or why it can not be processed (the reason it is dead-lettered with). */
export function parseMessage(content: Buffer): BrokerMessage | { problem: string } {
  if (content.length > MESSAGE_MAX_BYTES)
    return { problem: `message of ${content.length} bytes (at most ${MESSAGE_MAX_BYTES})` };
  let body: unknown;
  try {
    body = JSON.parse(content.toString('utf8'));
  } catch {
    return { problem: 'message is not JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { problem: 'message is not an object' };
  const b = body as Record<string, unknown>;
  if (b.v !== 1) return { problem: `unknown message version ${JSON.stringify(b.v)}` };
  if (!positive(b.runId)) return { problem: 'runId: must be a positive integer' };
  if (b.kind === 'cancel') {
    if (typeof b.reason !== 'string') return { problem: 'reason: must be a string' };
    return { kind: 'cancel', runId: b.runId, reason: b.reason.slice(0, CANCEL_REASON_MAX) };
  }
  if (b.kind !== 'run') return { problem: `unknown message kind ${JSON.stringify(b.kind)}` };
  const problems: string[] = [];
  if (!positive(b.jobId)) problems.push('jobId: must be a positive integer');
  if (!positive(b.attempt)) problems.push('attempt: must be a positive integer');
  if (typeof b.tickKey !== 'string' || b.tickKey === '' || b.tickKey.length > TICK_KEY_MAX) {
    problems.push(`tickKey: must be a string of 1 to ${TICK_KEY_MAX} characters`);
  }
  if (problems.length > 0) return { problem: problems.join('; ') };
  return {
    kind: 'run',
    runId: b.runId,
    jobId: b.jobId as number,
    tickKey: b.tickKey as string,
    attempt: b.attempt as number,
  };
}

/** The x-death reasons RabbitMQ writes; anything else (a forged header, a future reason) is `other`. */
export const DEATH_REASONS = ['rejected', 'expired', 'maxlen', 'delivery_limit'] as const;
export type DeathReason = (typeof DEATH_REASONS)[number] | 'other';
/** Characters of a dead letter's queue name kept (a header is the publisher's text, up to a frame in size). */
export const DEATH_QUEUE_MAX = 100;

/**
 * The first x-death reason of a dead-lettered message, mapped to the known set (it becomes a metric label and a run's
 * error: a forged reason must not make a new series, or a long text), and its queue, cut at DEATH_QUEUE_MAX.
 */
export function deathReason(headers: Record<string, unknown> | undefined): { reason: DeathReason; queue: string } {
  const deaths = headers?.['x-death'];
  const first = Array.isArray(deaths) ? (deaths[0] as Record<string, unknown> | undefined) : undefined;
  const raw = typeof first?.reason === 'string' ? first.reason : headers?.['x-first-death-reason'];
  const reason = (DEATH_REASONS as readonly unknown[]).includes(raw) ? (raw as DeathReason) : 'other';
  const queue =
    typeof first?.queue === 'string'
      ? first.queue
      : typeof headers?.['x-first-death-queue'] === 'string'
        ? headers['x-first-death-queue']
        : '?';
  return { reason, queue: queue.slice(0, DEATH_QUEUE_MAX) };
}
