// The dispatcher's public REST API, nothing else: every screen is built on these calls.
import type { DispatcherJson, ExecutorJson, HealthJson, JobJson, PageJson, RunJson, RunStatus } from '@app/contract';
import type { JobBody } from './job-form';

/** A refused or failed call; `messages` are the API's `message` (a string or a list of strings) as a list. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly messages: string[],
  ) {
    super(messages.join('; ') || `HTTP ${status}`);
  }
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

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
  headers: Record<string, string> = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        ...(body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
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
  if (!res.ok) throw new ApiError(res.status, messagesOf(data, res));
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

export const api = {
  listJobs: (q: JobQuery, signal?: AbortSignal) =>
    request<PageJson<JobJson>>('GET', `/api/jobs${queryString({ ...q })}`, undefined, signal),
  getJob: (id: number, signal?: AbortSignal) => request<JobJson>('GET', `/api/jobs/${id}`, undefined, signal),
  createJob: (body: JobBody) => request<JobJson>('POST', '/api/jobs', body),
  /** Changes only `version` of the job (If-Match): a 412 when someone changed it since it was read. */
  updateJob: (id: number, version: number, body: JobBody) =>
    request<JobJson>('PATCH', `/api/jobs/${id}`, body, undefined, { 'if-match': `"${version}"` }),
  deleteJob: (id: number) => request<void>('DELETE', `/api/jobs/${id}`),
  triggerJob: (id: number) => request<{ runId: number }>('POST', `/api/jobs/${id}/trigger`),
  pauseJob: (id: number) => request<JobJson>('POST', `/api/jobs/${id}/pause`),
  resumeJob: (id: number) => request<JobJson>('POST', `/api/jobs/${id}/resume`),
  jobRuns: (id: number, q: Omit<RunQuery, 'jobId'>, signal?: AbortSignal) =>
    request<PageJson<RunJson>>('GET', `/api/jobs/${id}/runs${queryString({ ...q })}`, undefined, signal),
  listRuns: (q: RunQuery, signal?: AbortSignal) =>
    request<PageJson<RunJson>>('GET', `/api/runs${queryString({ ...q })}`, undefined, signal),
  getRun: (id: number, signal?: AbortSignal) => request<RunJson>('GET', `/api/runs/${id}`, undefined, signal),
  cancelRun: (id: number) => request<void>('POST', `/api/runs/${id}/cancel`),
  executors: (signal?: AbortSignal) => request<ExecutorJson[]>('GET', '/api/executors', undefined, signal),
  dispatchers: (signal?: AbortSignal) => request<DispatcherJson[]>('GET', '/api/dispatchers', undefined, signal),
  cronNext: (expr: string, tz: string, count: number, signal?: AbortSignal) =>
    request<{ next: string[] }>('GET', `/api/cron/next${queryString({ expr, tz, count })}`, undefined, signal),
  /** 503 (database down) still carries the checks: it is an answer, not a failure. */
  health: async (signal?: AbortSignal): Promise<HealthJson> => {
    const res = await fetch('/api/health', { signal, headers: { accept: 'application/json' } });
    if (res.status !== 200 && res.status !== 503) throw new ApiError(res.status, [`health: ${res.status}`]);
    return (await res.json()) as HealthJson;
  },
};

/** One line for a toast or an error box. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.messages.join('\n') || e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
