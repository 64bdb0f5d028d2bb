// The REST API's JSON (CONTRACT.md, REST API): what the dispatcher sends and the dashboard reads. Times are ISO 8601
// strings in UTC. The dispatcher's response classes implement these, so a field added on one side only fails to
// compile.
import type { JobHttpJson } from './http-spec';
import type {
  ConcurrencyPolicy,
  DependencyCondition,
  DependencyMode,
  JobType,
  MisfirePolicy,
  NotificationStatus,
  NotifyChannel,
  NotifyEvent,
  Routing,
  RunStatus,
  RunTrigger,
} from './vocabulary';

export interface LastRunJson {
  id: number;
  status: RunStatus;
  scheduledAt: string;
}

/**
 * A job's own notification settings; a field left out falls back to `[notify]`. As the API shows it, `webhook` and
 * `slack` are masked (`https://hooks.example.com/***`: a Slack URL is a credential); on PATCH, `***` or the masked
 * value as read keeps the stored URL.
 */
export interface JobNotifyJson {
  on: NotifyEvent[];
  webhook?: string;
  slack?: string;
  email?: string[];
}

/** One parent of a job: its id and when its finished run starts the job. */
export interface JobDependencyJson {
  jobId: number;
  on: DependencyCondition;
}

/** One child of a job (read only): the job that names this one in its `dependsOn`. */
export interface JobChildJson {
  jobId: number;
  name: string;
  on: DependencyCondition;
  enabled: boolean;
}

export interface JobJson {
  id: number;
  name: string;
  description: string;
  cron: string;
  timezone: string;
  type: JobType;
  command: string | null;
  env: Record<string, string>;
  /** Write-only: each name with the value `***` (the values are stored encrypted, for the executor alone). */
  secretEnv: Record<string, string>;
  http: JobHttpJson | null;
  timeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  concurrency: ConcurrencyPolicy;
  misfire: MisfirePolicy;
  group: string;
  routing: Routing;
  enabled: boolean;
  /** Null: the global `[notify]` defaults. */
  notify: JobNotifyJson | null;
  /** The job's parents (empty: none); `cron` may be empty when it has some. */
  dependsOn: JobDependencyJson[];
  dependencyMode: DependencyMode;
  /** `all` with parents on different schedules: parent runs within this many ms of each other make one occasion. */
  dependencyWindowMs: number;
  /** Read only: the jobs that name this one as a parent. */
  children: JobChildJson[];
  /** Bumped by every change of the definition; also the `ETag` (`"<version>"`) that `If-Match` names. */
  version: number;
  createdAt: string;
  updatedAt: string;
  /** Null while the job is paused. */
  nextRunAt: string | null;
  lastRun: LastRunJson | null;
  /** Read only: the dispatcher planning the job (its shard's holder); null while paused or not known. */
  owner: string | null;
}

export interface RunJson {
  id: number;
  jobId: number;
  scheduledAt: string;
  trigger: RunTrigger;
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
  /**
   * A `skipped` record: the ticks it stands for (consecutive `forbid` skips behind one run folded into one record, or
   * the ticks a misfire policy dropped), from `scheduledAt` to `skippedUntil`. 0 for every other status.
   */
  skippedCount: number;
  /** A `skipped` record of several ticks: its last tick; null otherwise. */
  skippedUntil: string | null;
  /** A `dependency` run: the parent runs whose finish started it (empty otherwise). */
  parentRunIds: number[];
}

/** A run beside another in the dependency graph: a parent run (upstream) or a run it started (downstream). */
export interface RunLinkJson {
  id: number;
  jobId: number;
  jobName: string | null;
  status: RunStatus;
  scheduledAt: string;
  finishedAt: string | null;
}

/** GET /api/runs/:id: the run, and the runs beside it in the dependency graph. */
export interface RunDetailJson extends RunJson {
  upstream: RunLinkJson[];
  downstream: RunLinkJson[];
}

/** GET /api/jobs/:id/graph: the job's ancestors and descendants and the edges between them. */
export interface JobGraphJson {
  jobId: number;
  nodes: {
    id: number;
    name: string;
    enabled: boolean;
    cron: string;
    dependencyMode: DependencyMode;
    /** Negative: an ancestor that many edges up; positive: a descendant; 0: the job itself. */
    level: number;
  }[];
  /** `parentId` → `childId`: the child runs when the parent's run satisfies `on`. */
  edges: { parentId: number; childId: number; on: DependencyCondition }[];
  /** More than 2,000 nodes: the graph shown is cut there. */
  truncated: boolean;
}

/** A list answer: one page of items and the count of all that match. */
export interface PageJson<T> {
  items: T[];
  /** Exact up to 10,000; beyond, 10,000 with `totalCapped: true` (the count stops there). */
  total: number;
  totalCapped: boolean;
}

/** GET /api/executors, and the executor's value in etcd. */
export interface ExecutorJson {
  id: string;
  address: string;
  group: string;
  capacity: number;
  running: number;
  startedAt: string;
}

/** GET /api/dispatchers, and the dispatcher's value in etcd. */
export interface DispatcherJson {
  id: string;
  address: string;
  startedAt: string;
}

/** GET /api/dispatchers: each live dispatcher with the shards it holds. */
export interface DispatcherStatusJson extends DispatcherJson {
  /** The shards (0–255) it holds in etcd; every one for a dispatcher without etcd. */
  shards: number[];
}

export interface HealthCheckJson {
  status: 'ok' | 'degraded' | 'down';
  detail: string;
  /** `executors` only: per group, executors up, those taking runs (not draining), and enabled jobs that use it. */
  groups?: Record<string, { up: number; available: number; jobs: number }>;
}

/** GET /api/health. */
export interface HealthJson {
  status: 'ok' | 'degraded';
  checks: Record<string, HealthCheckJson>;
}

/** GET /api/broker: one queue of the RabbitMQ transport. `null` counts: the broker could not be asked. */
export interface BrokerQueueJson {
  name: string;
  kind: 'runs' | 'exec' | 'dead';
  /** runs queues: the executor group. */
  group?: string;
  /** exec queues: the executor. */
  executorId?: string;
  ready: number | null;
  /** Always null: AMQP does not report it (only the management plugin does). */
  unacked: number | null;
  consumers: number | null;
  error?: string;
}

/** GET /api/broker: one dead letter this dispatcher handled. */
export interface BrokerDeadLetterJson {
  at: string;
  runId: number | null;
  /** The run's job, when the message or the ledger row names it. */
  jobId: number | null;
  reason: string;
  queue: string;
  outcome: string;
}

/** GET /api/broker. The URL's password is masked. */
export interface BrokerJson {
  enabled: boolean;
  connected: boolean;
  url: string;
  groups: string[];
  prefix: string;
  lastError: string | null;
  queues: BrokerQueueJson[];
  deadLettered: { queued: number | null; handled: number; recent: BrokerDeadLetterJson[] };
}

/** GET /api/events: the data of `job` and `run` events. */
export type ChangeEvent =
  | { type: 'job'; action: 'created' | 'updated' | 'deleted'; jobId: number }
  | { type: 'run'; runId: number; jobId?: number; status?: RunStatus };

/** GET /api/notifications: one outbox row. Never a URL or a secret: the target is masked. */
export interface NotificationJson {
  id: number;
  /** Sent as `X-Gocron-Delivery`, the same on every attempt. */
  deliveryId: string;
  jobId: number;
  runId: number;
  event: NotifyEvent;
  channel: NotifyChannel;
  /** Scheme and host with `***` for a URL; addresses with their local part masked for email. */
  target: string;
  status: NotificationStatus;
  attempts: number;
  /** When a pending row is next tried (null once it is sent or failed). */
  nextAttemptAt: string | null;
  /** How many other events were folded into this delivery (min_interval). */
  folded: number;
  /** Set when this event was delivered (or failed) as part of that row's delivery instead of its own. */
  foldedInto: number | null;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}
