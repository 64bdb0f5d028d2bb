// The job form's state, and its conversions from a Job and to the API's body. Values the API judges (numbers,
// status lists) are passed on as typed, so that a bad one comes back as the API's own 400 beside its field.
import {
  DEFAULT_DEPENDENCY_WINDOW_MS,
  MAX_PARENTS,
  type ConcurrencyPolicy,
  type DependencyCondition,
  type DependencyMode,
  type HttpMethod,
  type JobHttpJson,
  type JobJson,
  type JobNotifyJson,
  type JobType,
  type MisfirePolicy,
  type NotifyEvent,
  type Routing,
} from '@app/contract';
import type { FieldErrors } from './field-errors';

/** What POST /api/jobs and PATCH /api/jobs/:id take (values may be raw where the API is the judge). */
export type JobBody = Record<string, unknown>;

/** A job field the API takes, by the name its 400 messages use: a renamed or removed one fails to compile here. */
type ApiField =
  | Exclude<keyof JobJson, 'id' | 'createdAt' | 'updatedAt' | 'nextRunAt' | 'lastRun' | 'children'>
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

/** One parent picked in the form: the job, its name as last read (null until known), and its condition. */
export interface ParentRow {
  jobId: number;
  name: string | null;
  on: DependencyCondition;
}

/** The units the occasion window is typed in; it is stored (and sent) in ms. */
export const WINDOW_UNITS = { s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export type WindowUnit = keyof typeof WINDOW_UNITS;

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
  /** The job's parents (`dependsOn`); with some, `cron` may be left empty. */
  parents: ParentRow[];
  /** The job as loaded had parents: the dependency fields are sent even when none are left (to clear them). */
  hadParents: boolean;
  dependencyMode: DependencyMode;
  /** `dependencyWindowMs` as typed, in `dependencyWindowUnit`. */
  dependencyWindow: string;
  dependencyWindowUnit: WindowUnit;
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
  'dependsOn',
  'dependencyMode',
  'dependencyWindowMs',
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
  parents: [],
  hadParents: false,
  dependencyMode: 'all',
  ...windowOf(DEFAULT_DEPENDENCY_WINDOW_MS),
};

/** A window in ms as the form shows it: in the largest unit that divides it, else in seconds (1.5 s). */
export function windowOf(ms: number): Pick<JobForm, 'dependencyWindow' | 'dependencyWindowUnit'> {
  const units = (Object.keys(WINDOW_UNITS) as WindowUnit[]).reverse();
  const unit = ms > 0 ? units.find((u) => ms % WINDOW_UNITS[u] === 0) : undefined;
  return unit
    ? { dependencyWindow: String(ms / WINDOW_UNITS[unit]), dependencyWindowUnit: unit }
    : { dependencyWindow: String(ms / 1000), dependencyWindowUnit: 's' };
}

/** The window in ms as the API takes it; text that is not a number is sent as typed, for the API to refuse by name. */
export function windowMsOf(f: Pick<JobForm, 'dependencyWindow' | 'dependencyWindowUnit'>): number | string | undefined {
  const n = numberOf(f.dependencyWindow);
  return typeof n === 'number' ? Math.round(n * WINDOW_UNITS[f.dependencyWindowUnit]) : n;
}

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
    parents: (job.dependsOn ?? []).map((d) => ({ jobId: d.jobId, name: null, on: d.on })),
    hadParents: (job.dependsOn ?? []).length > 0,
    dependencyMode: job.dependencyMode ?? NEW_JOB.dependencyMode,
    ...windowOf(job.dependencyWindowMs ?? DEFAULT_DEPENDENCY_WINDOW_MS),
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
  // Only for a job with parents (or that had some): mode and window mean nothing without, and a job that never had
  // parents is sent as before, its stored mode and window untouched.
  if (f.parents.length > 0 || f.hadParents) {
    body.dependsOn = f.parents.map(({ jobId, on }) => ({ jobId, on }));
    body.dependencyMode = f.dependencyMode;
    body.dependencyWindowMs = windowMsOf(f);
  }
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

/**
 * What the form can tell before asking the API: a job needs a schedule, parents, or both (the API is the judge of
 * everything else, a cycle included). Null: nothing to say.
 */
export function formProblems(f: JobForm): FieldErrors | null {
  const byField: Record<string, string[]> = {};
  if (f.cron.trim() === '' && f.parents.length === 0)
    byField.cron = ['cron: a job needs a schedule, parents, or both: type a cron expression or pick a parent job.'];
  if (f.parents.length > MAX_PARENTS)
    byField.dependsOn = [`dependsOn: at most ${MAX_PARENTS} parents (${f.parents.length} picked).`];
  return Object.keys(byField).length ? { byField, general: [] } : null;
}
