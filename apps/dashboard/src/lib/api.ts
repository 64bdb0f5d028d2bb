// The dispatcher's public REST API, nothing else: every screen is built on these calls. They ride on the session
// cookie the login set (same origin); state-changing ones carry the CSRF token, and a 401 anywhere means "sign in
// (again)": the session module, told through onUnauthorized, takes the app to the login page.
import type {
  BrokerJson,
  DispatcherStatusJson,
  ExecutorJson,
  HealthJson,
  JobGraphJson,
  JobJson,
  NotificationJson,
  NotificationStatus,
  PageJson,
  RunDetailJson,
  RunJson,
  RunStatus,
} from '@app/contract';
import type {
  AuditPageJson,
  CreatedTokenJson,
  LoginBody,
  LoginJson,
  MeJson,
  NewTokenBody,
  NewUserBody,
  TokenJson,
  UserChange,
  UserJson,
} from './auth';
import { cookieValue, retryAfterSeconds } from './http-headers';
import type { JobBody } from './job-form';

/** A refused or failed call; `messages` are the API's `message` (a string or a list of strings) as a list. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly messages: string[],
    /** Seconds the server asks to wait (429's Retry-After), when it said. */
    readonly retryAfter: number | null = null,
  ) {
    super(messages.join('; ') || `HTTP ${status}`);
  }
}

/** The cookie the login sets beside the (httpOnly) session cookie; its value goes back as X-CSRF-Token. */
const CSRF_COOKIE = 'gocron_csrf';
const STATE_CHANGING = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

let unauthorized: () => void = () => undefined;

/** Called on every 401 answer (no session, an expired one, a revoked token), except the login's own. */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

function csrfHeader(method: string): Record<string, string> {
  if (!STATE_CHANGING.has(method)) return {};
  const token = cookieValue(document.cookie, CSRF_COOKIE);
  return token ? { 'x-csrf-token': token } : {};
}

type Query = Record<string, string | number | boolean | undefined | null>;

export function queryString(q: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function messagesOf(body: unknown, res: Response): string[] {
  if (body && typeof body === 'object' && 'message' in body) {
    const m = (body as { message: unknown }).message;
    if (Array.isArray(m)) return m.map(String);
    if (typeof m === 'string') return [m];
  }
  return [`${res.status} ${res.statusText || 'error'}`];
}

interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** False where a 401 is the answer itself (a wrong password at login), not "the session is gone". */
  signInOn401?: boolean;
}

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const { body, signal, headers = {}, signInOn401 = true } = options;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        ...(body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' }),
        ...csrfHeader(method),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'same-origin',
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError(0, ['The dispatcher did not answer. Is it running?']);
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (res.status === 401 && signInOn401) unauthorized();
  if (!res.ok) throw new ApiError(res.status, messagesOf(data, res), retryAfterSeconds(res.headers.get('retry-after')));
  return data as T;
}

export interface JobQuery {
  limit?: number;
  offset?: number;
  q?: string;
  group?: string;
  enabled?: boolean;
  lastStatus?: RunStatus;
}

export interface RunQuery {
  limit?: number;
  offset?: number;
  status?: RunStatus;
  jobId?: number;
}

export interface AuditQuery {
  limit?: number;
  offset?: number;
  actor?: string;
  action?: string;
  jobId?: number;
}

export const api = {
  listJobs: (q: JobQuery, signal?: AbortSignal) =>
    request<PageJson<JobJson>>('GET', `/api/jobs${queryString({ ...q })}`, { signal }),
  getJob: (id: number, signal?: AbortSignal) => request<JobJson>('GET', `/api/jobs/${id}`, { signal }),
  createJob: (body: JobBody) => request<JobJson>('POST', '/api/jobs', { body }),
  /** Changes only `version` of the job (If-Match): a 412 when someone changed it since it was read. */
  updateJob: (id: number, version: number, body: JobBody) =>
    request<JobJson>('PATCH', `/api/jobs/${id}`, { body, headers: { 'if-match': `"${version}"` } }),
  /** `force`: a job that others depend on is deleted too, its children detached (a 409 without it). */
  deleteJob: (id: number, force = false) =>
    request<void>('DELETE', `/api/jobs/${id}${queryString({ force: force || undefined })}`),
  /** `cascade`: the run's children follow it (a manual run of a parent starts nothing else without it). */
  triggerJob: (id: number, cascade = false) =>
    request<{ runId: number }>('POST', `/api/jobs/${id}/trigger${queryString({ cascade: cascade || undefined })}`),
  /** The job's ancestors and descendants, at most 2,000 of them (`truncated` beyond). */
  jobGraph: (id: number, signal?: AbortSignal) => request<JobGraphJson>('GET', `/api/jobs/${id}/graph`, { signal }),
  pauseJob: (id: number) => request<JobJson>('POST', `/api/jobs/${id}/pause`),
  resumeJob: (id: number) => request<JobJson>('POST', `/api/jobs/${id}/resume`),
  jobRuns: (id: number, q: Omit<RunQuery, 'jobId'>, signal?: AbortSignal) =>
    request<PageJson<RunJson>>('GET', `/api/jobs/${id}/runs${queryString({ ...q })}`, { signal }),
  listRuns: (q: RunQuery, signal?: AbortSignal) =>
    request<PageJson<RunJson>>('GET', `/api/runs${queryString({ ...q })}`, { signal }),
  /** The run with its upstream (parent) and downstream (child) runs. */
  getRun: (id: number, signal?: AbortSignal) => request<RunDetailJson>('GET', `/api/runs/${id}`, { signal }),
  cancelRun: (id: number) => request<void>('POST', `/api/runs/${id}/cancel`),
  executors: (signal?: AbortSignal) => request<ExecutorJson[]>('GET', '/api/executors', { signal }),
  dispatchers: (signal?: AbortSignal) => request<DispatcherStatusJson[]>('GET', '/api/dispatchers', { signal }),
  broker: (signal?: AbortSignal) => request<BrokerJson>('GET', '/api/broker', { signal }),
  cronNext: (expr: string, tz: string, count: number, signal?: AbortSignal) =>
    request<{ next: string[] }>('GET', `/api/cron/next${queryString({ expr, tz, count })}`, { signal }),
  /** 503 (database down) still carries the checks: it is an answer, not a failure. Public: no session needed. */
  health: async (signal?: AbortSignal): Promise<HealthJson> => {
    const res = await fetch('/api/health', { signal, headers: { accept: 'application/json' } });
    if (res.status !== 200 && res.status !== 503) throw new ApiError(res.status, [`health: ${res.status}`]);
    return (await res.json()) as HealthJson;
  },

  /** A 401 here is a wrong password or token (shown on the form), a 429 too many of them (Retry-After). */
  login: (body: LoginBody) => request<LoginJson>('POST', '/api/auth/login', { body, signInOn401: false }),
  logout: () => request<void>('POST', '/api/auth/logout'),
  me: (signal?: AbortSignal) => request<MeJson>('GET', '/api/auth/me', { signal }),

  /** The caller's tokens; an admin's list has everyone's. */
  listTokens: (signal?: AbortSignal) => request<TokenJson[]>('GET', '/api/tokens', { signal }),
  createToken: (body: NewTokenBody) => request<CreatedTokenJson>('POST', '/api/tokens', { body }),
  revokeToken: (id: number) => request<void>('DELETE', `/api/tokens/${id}`),

  listUsers: (signal?: AbortSignal) => request<UserJson[]>('GET', '/api/users', { signal }),
  createUser: (body: NewUserBody) => request<UserJson>('POST', '/api/users', { body }),
  /** A 409 when the change would leave no enabled admin. */
  updateUser: (id: number, body: UserChange) => request<UserJson>('PATCH', `/api/users/${id}`, { body }),
  deleteUser: (id: number) => request<void>('DELETE', `/api/users/${id}`),

  notifications: (q: { limit: number; offset: number; status?: NotificationStatus }, signal?: AbortSignal) =>
    request<PageJson<NotificationJson>>('GET', `/api/notifications${queryString({ ...q })}`, { signal }),
  audit: (q: AuditQuery, signal?: AbortSignal) =>
    request<AuditPageJson>('GET', `/api/audit${queryString({ ...q })}`, { signal }),
};

/** One line for a toast or an error box. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.messages.join('\n') || e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
