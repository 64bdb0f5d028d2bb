import type { NotificationStatus, NotifyChannel, NotifyEvent } from '../domain';
import { ColumnsOf, columnList, num, orNull, text, Value } from './columns';

/** One outbox row (table `notifications`) as the dispatcher reads it. */
export interface NotificationRow {
  id: number;
  runId: number;
  jobId: number;
  event: NotifyEvent;
  channel: NotifyChannel;
  status: NotificationStatus;
  /** Delivery attempts made (a postponement for min_interval is not one). */
  attempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  /** `X-Gocron-Delivery`: chosen when the row is recorded, the same on every attempt and every dispatcher. */
  deliveryId: string;
  /** Other events folded into this delivery. */
  folded: number;
  /** The row whose delivery carries this event (it was inside min_interval), or null. */
  foldedInto: number | null;
  lastError: string | null;
  /** Where it goes: a URL (webhook, slack) or a JSON list of addresses (email). Never shown. */
  target: string;
  /** The event's facts as JSON (NotificationFacts): the body is built from them at each attempt. */
  payload: string;
  createdAt: number;
  updatedAt: number;
  sentAt: number | null;
}

/** The notifications table for raw SQL: each property's column and how its raw value is read. */
export const NOTIFICATION_COLUMNS = {
  id: { name: 'id', read: num },
  runId: { name: 'run_id', read: num },
  jobId: { name: 'job_id', read: num },
  event: { name: 'event', read: (v: Value) => text(v) as NotifyEvent },
  channel: { name: 'channel', read: (v: Value) => text(v) as NotifyChannel },
  status: { name: 'status', read: (v: Value) => text(v) as NotificationStatus },
  attempts: { name: 'attempts', read: num },
  nextAttemptAt: { name: 'next_attempt_at', read: num },
  leaseOwner: { name: 'lease_owner', read: orNull(text) },
  leaseUntil: { name: 'lease_until', read: orNull(num) },
  deliveryId: { name: 'delivery_id', read: text },
  folded: { name: 'folded', read: num },
  foldedInto: { name: 'folded_into', read: orNull(num) },
  lastError: { name: 'last_error', read: orNull(text) },
  target: { name: 'target', read: text },
  payload: { name: 'payload', read: text },
  createdAt: { name: 'created_at', read: num },
  updatedAt: { name: 'updated_at', read: num },
  sentAt: { name: 'sent_at', read: orNull(num) },
} as const satisfies ColumnsOf<NotificationRow>;

export const NOTIFICATION_SELECT_LIST = columnList(NOTIFICATION_COLUMNS);

/** A row of NOTIFICATION_SELECT_LIST (as objects: the drivers answer rows keyed by column name). */
export function notificationFromRow(row: Record<string, Value>): NotificationRow {
  const out = {} as Record<string, unknown>;
  for (const [property, c] of Object.entries(NOTIFICATION_COLUMNS)) out[property] = c.read(row[c.name]);
  return out as unknown as NotificationRow;
}
