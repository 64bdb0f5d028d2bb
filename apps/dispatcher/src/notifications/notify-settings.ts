import { SECRET_MASK } from '@app/common';
import type { NotifyConfig } from '@app/config';
import type { JobNotify, NotifyChannel, NotifyEvent } from '@app/persistence';
import { DomainError } from '../common/domain-error';

/**
 * A notification URL as it may be shown: scheme, host and port, then `/***`. The path and query of a Slack (or any)
 * incoming webhook are its credential; user info is dropped too. Anything that does not parse is `***` whole.
 */
export function maskNotifyUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/${SECRET_MASK}`;
  } catch {
    return SECRET_MASK;
  }
}

/** An address with its local part masked (`o***@example.com`): enough to tell targets apart, not to harvest them. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return SECRET_MASK;
  return `${address[0]}${SECRET_MASK}${address.slice(at)}`;
}

/** A job's `notify` as the API shows it: the webhook and Slack URLs masked, the rest as stored. */
export function maskedNotify(notify: JobNotify | null | undefined): JobNotify | null {
  if (!notify) return null;
  const out: JobNotify = { on: [...notify.on] };
  if (notify.webhook !== undefined) out.webhook = maskNotifyUrl(notify.webhook);
  if (notify.slack !== undefined) out.slack = maskNotifyUrl(notify.slack);
  if (notify.email !== undefined) out.email = [...notify.email];
  return out;
}

/** Whether a value given for a URL stands for "keep the stored one": `***`, or exactly what a read shows. */
function keeps(given: string, stored: string | undefined): boolean {
  return given === SECRET_MASK || (stored !== undefined && given === maskNotifyUrl(stored));
}

/**
 * The `notify` to store from a create or PATCH: a URL given as `***` or as its masked read keeps the stored URL (so a
 * read-modify-write keeps it, as for secrets); any other value ending in `***` is refused (a masked URL sent back for
 * a job that has none, or for another host), naming the field but never a value. `undefined` keeps the stored
 * `notify`, null removes it.
 */
export function changedNotify(
  stored: JobNotify | null | undefined,
  given: JobNotify | null | undefined,
): JobNotify | null | undefined {
  if (given === undefined || given === null) return given;
  const out: JobNotify = { on: [...new Set(given.on)] };
  for (const field of ['webhook', 'slack'] as const) {
    const value = given[field];
    if (value === undefined) continue;
    const before = stored?.[field];
    if (keeps(value, before)) {
      if (before === undefined) {
        throw new DomainError(
          'INVALID',
          `notify.${field} is masked ("${SECRET_MASK}" keeps the stored URL), but the job has no notify.${field}`,
        );
      }
      out[field] = before;
    } else if (value.endsWith(SECRET_MASK)) {
      throw new DomainError(
        'INVALID',
        `notify.${field} looks masked: send the full URL, or "${SECRET_MASK}" to keep the stored one`,
      );
    } else {
      out[field] = value;
    }
  }
  if (given.email !== undefined) out.email = [...new Set(given.email)];
  return out;
}

/** Where one channel of a notification goes. */
export interface ChannelTarget {
  channel: NotifyChannel;
  /** A URL (webhook, slack) or a JSON list of addresses (email). */
  target: string;
}

/** What a job's events notify, and where. */
export interface EffectiveNotify {
  on: ReadonlySet<NotifyEvent>;
  targets: ChannelTarget[];
}

/**
 * A job's notification settings: each field its `notify` gives wins, each it leaves out is `[notify]`'s (so a job
 * can add `succeeded` and keep the global webhook; `on: []` silences it). Email needs `[notify] smtp_url` (the
 * server is global) and goes to the job's `email` list, else `mail_to`.
 */
export function effectiveNotify(job: JobNotify | null | undefined, defaults: NotifyConfig): EffectiveNotify {
  const on = new Set<NotifyEvent>(job?.on ?? defaults.on);
  const targets: ChannelTarget[] = [];
  const webhook = job?.webhook ?? defaults.webhookUrl;
  if (webhook) targets.push({ channel: 'webhook', target: webhook });
  const slack = job?.slack ?? defaults.slackUrl;
  if (slack) targets.push({ channel: 'slack', target: slack });
  const email = job?.email ?? defaults.mailTo;
  if (defaults.smtpUrl && email.length > 0) targets.push({ channel: 'email', target: JSON.stringify(email) });
  return { on, targets };
}

/** A stored target as GET /api/notifications shows it: a URL masked, addresses with their local part masked. */
export function maskedTarget(channel: NotifyChannel, target: string): string {
  if (channel !== 'email') return maskNotifyUrl(target);
  try {
    const list = JSON.parse(target) as unknown;
    if (Array.isArray(list)) return list.map((a) => maskAddress(String(a))).join(', ');
  } catch {
    // fall through
  }
  return SECRET_MASK;
}
