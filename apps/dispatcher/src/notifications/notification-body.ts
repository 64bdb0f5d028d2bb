import { createHmac } from 'node:crypto';
import type { NotifyEvent, RunStatus } from '@app/persistence';

/** What an outbox row keeps of its event (its `payload`): everything a body needs but the delivery's own facts. */
export interface NotificationFacts {
  event: NotifyEvent;
  job: { id: number; name: string; group: string };
  run: {
    id: number;
    status: RunStatus;
    scheduledAt: string;
    attempt: number;
    exitCode: number | null;
    httpStatus: number | null;
    error: string | null;
    durationMs: number | null;
  };
}

/** The webhook's JSON body (README, Notifications): the event's facts and the delivery's. */
export interface WebhookBody extends NotificationFacts {
  deliveryId: string;
  /** Other events of this job, event and channel folded into this delivery (inside `[notify] min_interval`). */
  folded: number;
  dispatcherId: string;
  /** When this attempt was sent (ISO); the same delivery sent again carries a later one. */
  at: string;
}

/** One delivery of one row: what every channel is given. */
export interface Delivery {
  deliveryId: string;
  facts: NotificationFacts;
  folded: number;
  /** The row's target: a URL, or a JSON list of addresses. */
  target: string;
}

export function webhookBody(d: Delivery, dispatcherId: string, now: number): WebhookBody {
  return {
    deliveryId: d.deliveryId,
    event: d.facts.event,
    job: d.facts.job,
    run: d.facts.run,
    folded: d.folded,
    dispatcherId,
    at: new Date(now).toISOString(),
  };
}

/** `X-Gocron-Signature`: `sha256=` and the hex HMAC-SHA256 of the raw body under `[notify] webhook_secret`. */
export function signature(secret: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex')}`;
}

const WHAT: Record<NotifyEvent, string> = {
  failed: 'failed',
  timed_out: 'timed out',
  lost: 'was lost (its executor went away)',
  missed: 'missed a tick (no dispatcher claimed it)',
  recovered: 'recovered',
  succeeded: 'succeeded',
};

/** A one-paragraph summary: Slack's `text` and the email's body. */
export function summary(d: Delivery): string {
  const { job, run, event } = d.facts;
  const parts = [`gocron: job ${job.name} (#${job.id}, group ${job.group}) ${WHAT[event]}`];
  parts.push(`run #${run.id}, attempt ${run.attempt}, scheduled ${run.scheduledAt}, status ${run.status}`);
  if (run.exitCode !== null) parts.push(`exit code ${run.exitCode}`);
  if (run.httpStatus !== null) parts.push(`HTTP ${run.httpStatus}`);
  if (run.durationMs !== null) parts.push(`${run.durationMs} ms`);
  let text = parts.join('; ');
  if (run.error) text += `\nerror: ${run.error}`;
  if (d.folded > 0)
    text += `\n(+${d.folded} more ${event} event${d.folded === 1 ? '' : 's'} of this job since the last notification)`;
  return text;
}

export function subject(d: Delivery): string {
  return `[gocron] ${d.facts.job.name}: ${d.facts.event}${d.folded > 0 ? ` (+${d.folded})` : ''}`;
}
