// The job form's state, and its conversions from a Job and to the API's body. Values the API judges (numbers,
// status lists) are passed on as typed, so that a bad one comes back as the API's own 400 beside its field.
import type {
  ConcurrencyPolicy,
  HttpMethod,
  JobHttpJson,
  JobJson,
  JobNotifyJson,
  JobType,
  MisfirePolicy,
  NotifyEvent,
  Routing,
} from '@app/contract';

/** What POST /api/jobs and PATCH /api/jobs/:id take (values may be raw where the API is the judge). */
export type JobBody = Record<string, unknown>;

/** A job field the API takes, by the name its 400 messages use: a renamed or removed one fails to compile here. */
type ApiField =
  | Exclude<keyof JobJson, 'id' | 'createdAt' | 'updatedAt' | 'nextRunAt' | 'lastRun'>
  | `http.${keyof JobHttpJson}`
  | `notify.${keyof JobNotifyJson}`;

export interface Pair {
  key: string;
  value: string;
  /**
   * A secret the server holds a value for, which the dashboard never sees: an empty value keeps it (sent as "***"),
   * a typed one replaces it.
   */
  stored?: boolean;
}

/** What the API reads back for every secret value, and takes as "keep the stored one". */
export const SECRET_MASK = '***';

export interface JobForm {
  name: string;
  description: string;
  group: string;
  enabled: boolean;
  cron: string;
  timezone: string;
  type: JobType;
  command: string;
  env: Pair[];
  secretEnv: Pair[];
  method: HttpMethod;
  url: string;
  headers: Pair[];
  secretHeaders: Pair[];
  body: string;
  expectStatus: string;
  timeoutMs: string;
  retries: string;
  retryBackoffMs: string;
  concurrency: ConcurrencyPolicy;
  misfire: MisfirePolicy;
  routing: Routing;
  /** false: the `[notify]` defaults (notify: null); true: the job's own settings below. */
  notifyOwn: boolean;
  notifyOn: NotifyEvent[];
  /**
   * Write-only like secret headers: the API shows a URL masked, so the form starts empty and says whether one is
   * stored; left empty, a stored URL is kept ("***"), a typed one replaces it.
   */
  notifyWebhook: string;
  notifyWebhookStored: boolean;
  notifySlack: string;
  notifySlackStored: boolean;
  /** Comma-separated addresses; blank: `[notify] mail_to`. */
  notifyEmail: string;
}

/** Every field the form edits, by the API's name for it (the key 400 messages start with). */
export const FORM_FIELDS = [
  'name',
  'description',
  'group',
  'enabled',
  'cron',
  'timezone',
  'type',
  'command',
  'env',
  'secretEnv',
  'http',
  'http.method',
  'http.url',
  'http.headers',
  'http.secretHeaders',
  'http.body',
  'http.expectStatus',
  'timeoutMs',
  'retries',
  'retryBackoffMs',
  'concurrency',
  'misfire',
  'routing',
  'notify',
  'notify.on',
  'notify.webhook',
  'notify.slack',
  'notify.email',
] as const satisfies readonly ApiField[];
export type FormField = (typeof FORM_FIELDS)[number];

export const NEW_JOB: JobForm = {
  name: '',
  description: '',
  group: 'default',
  enabled: true,
  cron: '*/5 * * * *',
  timezone: 'UTC',
  type: 'shell',
  command: '',
  env: [],
  secretEnv: [],
  method: 'GET',
  url: '',
  headers: [],
  secretHeaders: [],
  body: '',
  expectStatus: '',
  timeoutMs: '60000',
  retries: '0',
  retryBackoffMs: '1000',
  concurrency: 'forbid',
  misfire: 'once',
  routing: 'round_robin',
  notifyOwn: false,
  notifyOn: ['failed', 'timed_out', 'lost', 'missed', 'recovered'],
  notifyWebhook: '',
  notifyWebhookStored: false,
  notifySlack: '',
  notifySlackStored: false,
  notifyEmail: '',
};

const pairs = (m: Record<string, string> | undefined | null): Pair[] =>
  Object.entries(m ?? {}).map(([key, value]) => ({ key, value }));

/** Secrets as the form holds them: the names only, each marked as stored, never a value. */
const storedPairs = (m: Record<string, string> | undefined | null): Pair[] =>
  Object.keys(m ?? {}).map((key) => ({ key, value: '', stored: true }));

export function formOf(job: JobJson): JobForm {
  return {
    name: job.name,
    description: job.description,
    group: job.group,
    enabled: job.enabled,
    cron: job.cron,
    timezone: job.timezone,
    type: job.type,
    command: job.command ?? '',
    env: pairs(job.env),
    secretEnv: storedPairs(job.secretEnv),
    method: job.http?.method ?? 'GET',
    url: job.http?.url ?? '',
    headers: pairs(job.http?.headers),
    secretHeaders: storedPairs(job.http?.secretHeaders),
    body: job.http?.body ?? '',
    expectStatus: (job.http?.expectStatus ?? []).join(', '),
    timeoutMs: String(job.timeoutMs),
    retries: String(job.retries),
    retryBackoffMs: String(job.retryBackoffMs),
    concurrency: job.concurrency,
    misfire: job.misfire,
    routing: job.routing,
    notifyOwn: job.notify !== null,
    notifyOn: job.notify?.on ?? NEW_JOB.notifyOn,
    notifyWebhook: '',
    notifyWebhookStored: job.notify?.webhook !== undefined,
    notifySlack: '',
    notifySlackStored: job.notify?.slack !== undefined,
    notifyEmail: (job.notify?.email ?? []).join(', '),
  };
}

/** A write-only URL as the API takes it: typed replaces, empty keeps a stored one ("***"), else left out. */
function urlOf(typed: string, stored: boolean): string | undefined {
  if (typed.trim()) return typed.trim();
  return stored ? SECRET_MASK : undefined;
}

/** The job's `notify`: null for the defaults; else its own events, URLs and addresses (blank ones left out). */
export function notifyOf(f: JobForm): JobNotifyJson | null {
  if (!f.notifyOwn) return null;
  const notify: JobNotifyJson = { on: f.notifyOn };
  const webhook = urlOf(f.notifyWebhook, f.notifyWebhookStored);
  if (webhook !== undefined) notify.webhook = webhook;
  const slack = urlOf(f.notifySlack, f.notifySlackStored);
  if (slack !== undefined) notify.slack = slack;
  const email = f.notifyEmail.split(/[\s,;]+/).filter(Boolean);
  if (email.length > 0) notify.email = email;
  return notify;
}

/** Rows with a key or a value; a value without a key is sent so that the API names the problem. */
function mapOf(rows: Pair[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of rows) if (key.trim() || value) out[key.trim()] = value;
  return out;
}

/**
 * Secret rows as the API takes them: a stored secret left empty is "***" (keep it), a typed value replaces it, a row
 * removed is a secret removed.
 */
function secretMapOf(rows: Pair[]): Record<string, string> {
  return mapOf(rows.map((r) => (r.stored && r.value === '' ? { ...r, value: SECRET_MASK } : r)));
}

/** A number when the text is one; else the text itself, for the API to refuse by name. Blank: left out. */
function numberOf(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

export function bodyOf(f: JobForm): JobBody {
  const body: JobBody = {
    name: f.name.trim(),
    description: f.description,
    group: f.group.trim(),
    enabled: f.enabled,
    cron: f.cron.trim(),
    timezone: f.timezone.trim(),
    type: f.type,
    timeoutMs: numberOf(f.timeoutMs),
    retries: numberOf(f.retries),
    retryBackoffMs: numberOf(f.retryBackoffMs),
    concurrency: f.concurrency,
    misfire: f.misfire,
    routing: f.routing,
    notify: notifyOf(f),
  };
  if (f.type === 'shell') {
    body.command = f.command;
    body.env = mapOf(f.env);
    body.secretEnv = secretMapOf(f.secretEnv);
  } else {
    body.http = {
      method: f.method,
      url: f.url.trim(),
      headers: mapOf(f.headers),
      secretHeaders: secretMapOf(f.secretHeaders),
      body: f.body,
      expectStatus: f.expectStatus
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((s) => numberOf(s)),
    };
  }
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}
