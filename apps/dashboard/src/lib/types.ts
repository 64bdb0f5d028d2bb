// The REST API's shapes, as the dashboard reads them (see the dispatcher's jobs/dto, runs/dto, cluster/, events/).

export const JOB_TYPES = ['shell', 'http'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const RUN_STATUSES = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'lost',
  'skipped',
  'missed',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RUN_TRIGGERS = ['schedule', 'manual', 'retry', 'misfire', 'dependency'] as const;
export const CONCURRENCY_POLICIES = ['allow', 'forbid', 'replace'] as const;
export const MISFIRE_POLICIES = ['skip', 'once', 'all'] as const;
export const ROUTINGS = ['round_robin', 'random', 'least_busy', 'consistent_hash', 'broadcast'] as const;
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];
export type MisfirePolicy = (typeof MISFIRE_POLICIES)[number];
export type Routing = (typeof ROUTINGS)[number];
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface HttpSpec {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body: string;
  expectStatus: number[];
}

export interface Job {
  id: number;
  name: string;
  description: string;
  cron: string;
  timezone: string;
  type: JobType;
  command: string | null;
  env: Record<string, string>;
  http: HttpSpec | null;
  timeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  concurrency: ConcurrencyPolicy;
  misfire: MisfirePolicy;
  group: string;
  routing: Routing;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  nextRunAt: string | null;
  lastRun: { id: number; status: RunStatus; scheduledAt: string } | null;
}

/** What POST /api/jobs and PATCH /api/jobs/:id take (values may be raw where the API is the judge). */
export type JobBody = Record<string, unknown>;

export interface Run {
  id: number;
  jobId: number;
  scheduledAt: string;
  trigger: (typeof RUN_TRIGGERS)[number];
  attempt: number;
  status: RunStatus;
  executorId: string | null;
  dispatcherId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  exitCode: number | null;
  httpStatus: number | null;
  output: string | null;
  outputTruncated: boolean;
  error: string | null;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface Executor {
  id: string;
  address: string;
  group: string;
  capacity: number;
  running: number;
  startedAt: string;
}

export interface Dispatcher {
  id: string;
  address: string;
  startedAt: string;
}

export interface Health {
  status: 'ok' | 'degraded';
  checks: Record<string, { status: 'ok' | 'degraded' | 'down'; detail: string }>;
}

/** GET /api/events: `job` and `run` events. */
export type ChangeEvent =
  | { type: 'job'; action: 'created' | 'updated' | 'deleted'; jobId: number }
  | { type: 'run'; runId: number; jobId?: number; status?: RunStatus };

export const FINAL_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'lost',
  'skipped',
  'missed',
];

export function isActive(status: RunStatus): boolean {
  return status === 'pending' || status === 'running';
}
