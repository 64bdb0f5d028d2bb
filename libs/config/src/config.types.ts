export type DatabaseType = 'sqlite' | 'mysql';

export interface DatabaseConfig {
  type: DatabaseType;
  path: string;
  username: string;
  password: string;
  host: string;
  port: number;
  database: string;
  charset: string;
}

export interface RedisConfig {
  /** Empty: in-process lock, one dispatcher only. */
  url: string;
  prefix: string;
}

export interface EtcdConfig {
  /** Empty: static discovery. */
  hosts: string[];
  prefix: string;
  leaseTtlSeconds: number;
}

export interface DispatcherConfig {
  host: string;
  port: number;
  id: string;
  /** `misfire_threshold`: a tick this late while a dispatcher runs (a stalled loop, a database outage) is misfired. */
  misfireThresholdSeconds: number;
  /** `missed_grace`: a tick with no record this long after its time is recorded as missed; > misfireThresholdSeconds. */
  missedGraceSeconds: number;
  /** `allowed_hosts`: Host header names the API answers (DNS rebinding); `['*']` turns the check off. */
  allowedHosts: string[];
  /** `cors_origins`: origins allowed to call the API from a browser; empty: CORS off. */
  corsOrigins: string[];
  /** `rate_limit` requests per second per credential (per address when anonymous), with a burst of `rate_burst`. */
  rateLimit: number;
  rateBurst: number;
  /** `max_streams`: concurrent event streams per credential. */
  maxStreams: number;
}

export interface AuthConfig {
  /** false only on a closed test network: every request is then admin. */
  enabled: boolean;
  /** `admin_token`, else GOCRON_AUTH_ADMIN_TOKEN (the env override of the same key); empty: data/admin-token. */
  adminToken: string;
  /** Key for secrets at rest (a later issue); empty: generated into data/secret.key. */
  secretKey: string;
  sessionTtlSeconds: number;
  publicMetrics: boolean;
  publicDocs: boolean;
}

export interface ExecutorConfig {
  host: string;
  port: number;
  advertise: string;
  group: string;
  capacity: number;
  drainTimeoutSeconds: number;
  id: string;
  staticTargets: string[];
  /**
   * `token`: the shared secret on every gRPC call between dispatchers and executors (metadata
   * `authorization: Bearer <token>`). Empty: an executor starts only on a loopback host, with a warning.
   */
  token: string;
  /** `tls_cert`, `tls_key`: PEM files; set: the executor serves TLS (a dispatcher presents them as its client cert). */
  tlsCert: string;
  tlsKey: string;
  /** `tls_ca`: PEM file; on an executor it requires client certificates signed by it, on a dispatcher it verifies executors. */
  tlsCa: string;
  /** `run_as`: the user shell tasks run as; empty: the executor's own user. */
  runAs: string;
  /** `workdir`: where shell tasks start; empty: a new temporary directory per run, removed after it. */
  workdir: string;
  /** `allowed_commands`: glob patterns a shell command must match; empty: any command. */
  allowedCommands: string[];
  /** `http_allow`: CIDRs HTTP tasks may reach even when `http_deny` covers them. */
  httpAllow: string[];
  /** `http_deny`: CIDRs HTTP tasks may not reach (after DNS resolution, on every redirect). */
  httpDeny: string[];
  /** `metrics_port`: the executor's own Prometheus /metrics on [executor] host; null (empty): off. */
  metricsPort: number | null;
}

/** `[retention]`: how much run history the ledger keeps. 0 turns a limit off. */
export interface RetentionConfig {
  /** `max_runs_per_job`: a job's newest runs kept; older finished ones are deleted. */
  maxRunsPerJob: number;
  /** `max_age_days`: finished runs last changed longer ago are deleted (a job's latest run stays). */
  maxAgeDays: number;
  /** `keep_output_runs`: a job's newest runs that keep their output; older ones keep their record only. */
  keepOutputRuns: number;
  /** `interval`: seconds between pruning passes. */
  intervalSeconds: number;
}

/** `[rabbitmq]`: dispatch through a broker for some executor groups (empty url: gRPC only). */
export interface RabbitMqConfig {
  /** `url`: e.g. amqp://guest:guest@127.0.0.1:5672 (a credential: never logged or shown). */
  url: string;
  /** `groups`: executor groups dispatched through the broker; `*` all; empty with a url set: `*`. */
  groups: string[];
  /** `prefix`: queue and exchange names start with it. */
  prefix: string;
}

export type NotifyEvent = 'failed' | 'timed_out' | 'lost' | 'missed' | 'recovered' | 'succeeded';

/** `[notify]`: the global notification defaults; a job's `notify` field overrides them. */
export interface NotifyConfig {
  /** `on`: events that notify. */
  on: NotifyEvent[];
  /** `webhook_url`: POSTed a JSON body; empty: no webhook. */
  webhookUrl: string;
  /** `webhook_secret`: HMAC-SHA256 key of the body, sent in `X-Gocron-Signature`; empty: unsigned. */
  webhookSecret: string;
  /** `slack_url`: a Slack-compatible incoming webhook (a credential: masked in every response). */
  slackUrl: string;
  /** `smtp_url`: e.g. smtp://user:pass@host:587; empty: no email. */
  smtpUrl: string;
  mailFrom: string;
  /** `mail_to`: comma-separated addresses. */
  mailTo: string[];
  /** `min_interval`: seconds; at most one notification per job, event and channel in it (others folded in). */
  minIntervalSeconds: number;
}

/** The one validated, typed configuration object both apps inject. */
export interface AppConfig {
  source: string;
  database: DatabaseConfig;
  redis: RedisConfig;
  etcd: EtcdConfig;
  dispatcher: DispatcherConfig;
  executor: ExecutorConfig;
  auth: AuthConfig;
  retention: RetentionConfig;
  notify: NotifyConfig;
  rabbitmq: RabbitMqConfig;
}
