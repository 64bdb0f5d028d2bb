import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parse as parseIni } from 'ini';
import { AppConfig, DatabaseType, NotifyEvent } from './config.types';

/** Every key the contract names, per section. Anything else in the file is a mistake worth reporting. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  database: ['type', 'path', 'username', 'password', 'host', 'port', 'database', 'charset'],
  redis: ['url', 'prefix'],
  etcd: ['hosts', 'prefix', 'lease_ttl'],
  dispatcher: [
    'host',
    'port',
    'id',
    'misfire_threshold',
    'missed_grace',
    'allowed_hosts',
    'cors_origins',
    'rate_limit',
    'rate_burst',
    'max_streams',
  ],
  executor: [
    'host',
    'port',
    'advertise',
    'group',
    'capacity',
    'drain_timeout',
    'id',
    'static_targets',
    'token',
    'tls_cert',
    'tls_key',
    'tls_ca',
    'run_as',
    'workdir',
    'allowed_commands',
    'http_allow',
    'http_deny',
    'metrics_port',
  ],
  auth: ['enabled', 'admin_token', 'secret_key', 'session_ttl', 'public_metrics', 'public_docs'],
  retention: ['max_runs_per_job', 'max_age_days', 'keep_output_runs', 'interval'],
  rabbitmq: ['url', 'groups', 'prefix'],
  notify: ['on', 'webhook_url', 'webhook_secret', 'slack_url', 'smtp_url', 'mail_from', 'mail_to', 'min_interval'],
};

/** Events a notification can be about; `succeeded` only when asked for. */
export const NOTIFY_EVENTS = ['failed', 'timed_out', 'lost', 'missed', 'recovered', 'succeeded'] as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

type RawSections = Record<string, Record<string, string>>;

/** `--config FILE` from argv, else conf/conf.ini. */
export function configPathFromArgv(argv: readonly string[] = process.argv): string {
  const i = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (i === -1) return 'conf/conf.ini';
  const arg = argv[i];
  if (arg.includes('=')) return arg.slice(arg.indexOf('=') + 1);
  const value = argv[i + 1];
  if (!value) throw new ConfigError(['--config: a file path is required']);
  return value;
}

function readSections(file: string, problems: string[]): RawSections {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push(`--config: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    return {};
  }
  const parsed = parseIni(text) as Record<string, unknown>;
  const sections: RawSections = {};
  for (const [section, body] of Object.entries(parsed)) {
    if (!(section in KNOWN_KEYS) || typeof body !== 'object' || body === null) {
      problems.push(`${file}: unknown section or top-level key '${section}'`);
      continue;
    }
    sections[section] = {};
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      if (!KNOWN_KEYS[section].includes(key)) {
        problems.push(`[${section}] ${key}: unknown key`);
        continue;
      }
      // ini parses `key =` as '' and `key = true` as boolean true; keep everything as text.
      sections[section][key] =
        typeof value === 'string' ? value.trim() : value === true ? 'true' : JSON.stringify(value);
    }
  }
  return sections;
}

/** GOCRON_<SECTION>_<KEY> wins over the file. */
function applyEnv(sections: RawSections, env: NodeJS.ProcessEnv): void {
  for (const [section, keys] of Object.entries(KNOWN_KEYS)) {
    for (const key of keys) {
      const value = env[`GOCRON_${section}_${key}`.toUpperCase()];
      if (value !== undefined) (sections[section] ??= {})[key] = value.trim();
    }
  }
}

class SectionReader {
  constructor(
    private readonly sections: RawSections,
    private readonly problems: string[],
  ) {}

  text(section: string, key: string, fallback: string): string {
    return this.sections[section]?.[key] ?? fallback;
  }

  required(section: string, key: string, fallback: string): string {
    const v = this.text(section, key, fallback);
    if (v === '') this.problems.push(`[${section}] ${key}: must not be empty`);
    return v;
  }

  int(section: string, key: string, fallback: number, min: number, max: number): number {
    const raw = this.text(section, key, String(fallback));
    if (!/^-?\d+$/.test(raw)) {
      this.problems.push(`[${section}] ${key}: '${raw}' is not an integer`);
      return fallback;
    }
    const n = Number(raw);
    if (n < min || n > max) {
      this.problems.push(`[${section}] ${key}: ${n} is out of range ${min}..${max}`);
      return fallback;
    }
    return n;
  }

  oneOf<T extends string>(section: string, key: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.text(section, key, fallback);
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`[${section}] ${key}: '${raw}' must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  bool(section: string, key: string, fallback: boolean): boolean {
    const raw = this.text(section, key, String(fallback));
    if (raw !== 'true' && raw !== 'false') {
      this.problems.push(`[${section}] ${key}: '${raw}' must be true or false`);
      return fallback;
    }
    return raw === 'true';
  }

  list(section: string, key: string, fallback: string): string[] {
    return this.text(section, key, fallback)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
}

/** What HTTP tasks may not reach unless `http_allow` says so: "this network", link-local (cloud metadata), AWS's IPv6 metadata. */
export const DEFAULT_HTTP_DENY = '0.0.0.0/8, 169.254.0.0/16, fe80::/10, fd00:ec2::254/128';

const HOST_PORT = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): AppConfig {
  const problems: string[] = [];
  const sections = readSections(file, problems);
  applyEnv(sections, env);
  const r = new SectionReader(sections, problems);
  const defaultId = `${hostname()}-${process.pid}`;

  const type = r.oneOf<DatabaseType>('database', 'type', 'sqlite', ['sqlite', 'mysql']);
  const config: AppConfig = {
    source: file,
    database: {
      type,
      path: type === 'sqlite' ? r.required('database', 'path', 'data/gocron.sqlite') : r.text('database', 'path', ''),
      username: r.text('database', 'username', 'root'),
      password: r.text('database', 'password', ''),
      host: type === 'mysql' ? r.required('database', 'host', '127.0.0.1') : r.text('database', 'host', '127.0.0.1'),
      port: r.int('database', 'port', 3306, 1, 65535),
      database: type === 'mysql' ? r.required('database', 'database', 'cron') : r.text('database', 'database', 'cron'),
      charset: r.text('database', 'charset', 'utf8mb4'),
    },
    redis: {
      url: r.text('redis', 'url', ''),
      prefix: r.required('redis', 'prefix', 'gocron'),
    },
    etcd: {
      hosts: r.list('etcd', 'hosts', ''),
      prefix: r.required('etcd', 'prefix', '/gocron'),
      leaseTtlSeconds: r.int('etcd', 'lease_ttl', 10, 1, 3600),
    },
    dispatcher: {
      host: r.required('dispatcher', 'host', '127.0.0.1'),
      port: r.int('dispatcher', 'port', 8080, 0, 65535),
      id: r.text('dispatcher', 'id', '') || defaultId,
      // At most a day: the ticks a plan fires on time are then at most 86,401, within what one plan enumerates.
      misfireThresholdSeconds: r.int('dispatcher', 'misfire_threshold', 30, 1, 86400),
      missedGraceSeconds: r.int('dispatcher', 'missed_grace', 120, 1, 7 * 86400),
      allowedHosts: r.list('dispatcher', 'allowed_hosts', '').map((h) => h.toLowerCase()),
      corsOrigins: r.list('dispatcher', 'cors_origins', ''),
      rateLimit: r.int('dispatcher', 'rate_limit', 100, 1, 1_000_000),
      rateBurst: r.int('dispatcher', 'rate_burst', 1000, 1, 10_000_000),
      maxStreams: r.int('dispatcher', 'max_streams', 16, 1, 10_000),
    },
    executor: {
      host: r.required('executor', 'host', '127.0.0.1'),
      port: r.int('executor', 'port', 50051, 0, 65535),
      advertise: r.text('executor', 'advertise', ''),
      group: r.required('executor', 'group', 'default'),
      capacity: r.int('executor', 'capacity', 16, 1, 100000),
      drainTimeoutSeconds: r.int('executor', 'drain_timeout', 30, 0, 86400),
      id: r.text('executor', 'id', '') || defaultId,
      staticTargets: r.list('executor', 'static_targets', '127.0.0.1:50051'),
      token: r.text('executor', 'token', ''),
      tlsCert: r.text('executor', 'tls_cert', ''),
      tlsKey: r.text('executor', 'tls_key', ''),
      tlsCa: r.text('executor', 'tls_ca', ''),
      runAs: r.text('executor', 'run_as', ''),
      workdir: r.text('executor', 'workdir', ''),
      allowedCommands: r.list('executor', 'allowed_commands', ''),
      httpAllow: r.list('executor', 'http_allow', ''),
      httpDeny: r.list('executor', 'http_deny', DEFAULT_HTTP_DENY),
      metricsPort:
        r.text('executor', 'metrics_port', '') === '' ? null : r.int('executor', 'metrics_port', 0, 1, 65535),
    },
    auth: {
      enabled: r.bool('auth', 'enabled', true),
      adminToken: r.text('auth', 'admin_token', ''),
      secretKey: r.text('auth', 'secret_key', ''),
      sessionTtlSeconds: r.int('auth', 'session_ttl', 86400, 60, 365 * 86400),
      publicMetrics: r.bool('auth', 'public_metrics', true),
      publicDocs: r.bool('auth', 'public_docs', true),
    },
    retention: {
      maxRunsPerJob: r.int('retention', 'max_runs_per_job', 1000, 0, 100_000_000),
      maxAgeDays: r.int('retention', 'max_age_days', 30, 0, 36_500),
      keepOutputRuns: r.int('retention', 'keep_output_runs', 100, 0, 100_000_000),
      intervalSeconds: r.int('retention', 'interval', 60, 1, 86_400),
    },
    rabbitmq: {
      url: r.text('rabbitmq', 'url', ''),
      groups: r.list('rabbitmq', 'groups', ''),
      prefix: r.required('rabbitmq', 'prefix', 'gocron'),
    },
    notify: {
      on: r.list('notify', 'on', 'failed,timed_out,lost,missed,recovered') as NotifyEvent[],
      webhookUrl: r.text('notify', 'webhook_url', ''),
      webhookSecret: r.text('notify', 'webhook_secret', ''),
      slackUrl: r.text('notify', 'slack_url', ''),
      smtpUrl: r.text('notify', 'smtp_url', ''),
      mailFrom: r.text('notify', 'mail_from', ''),
      mailTo: r.list('notify', 'mail_to', ''),
      minIntervalSeconds: r.int('notify', 'min_interval', 300, 0, 7 * 86_400),
    },
  };
  config.executor.advertise ||= `${config.executor.host}:${config.executor.port}`;
  // A token an attacker could guess is no credential; the value itself is never echoed.
  if (config.auth.adminToken && !/^[\x21-\x7e]{16,512}$/.test(config.auth.adminToken)) {
    problems.push('[auth] admin_token: must be 16 to 512 printable characters without spaces');
  }
  for (const origin of config.dispatcher.corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push(`[dispatcher] cors_origins: '${origin}' must look like https://host[:port] or be *`);
    }
  }

  const e = config.executor;
  if (e.token && !/^[\x21-\x7e]{16,512}$/.test(e.token)) {
    problems.push('[executor] token: must be 16 to 512 printable characters without spaces');
  }
  if (Boolean(e.tlsCert) !== Boolean(e.tlsKey)) {
    problems.push('[executor] tls_cert and tls_key: set both or neither');
  }
  if (e.runAs && !/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(e.runAs)) {
    problems.push(`[executor] run_as: '${e.runAs}' is not a user name`);
  }
  for (const key of ['http_allow', 'http_deny'] as const) {
    for (const cidr of key === 'http_allow' ? e.httpAllow : e.httpDeny) {
      if (!isCidr(cidr))
        problems.push(`[executor] ${key}: '${cidr}' must be an address or CIDR (10.0.0.0/8, fd00::/8)`);
    }
  }

  const mq = config.rabbitmq;
  // The URL holds the broker's password: name the key, never echo the value.
  if (mq.url && !/^amqps?:\/\/[^/\s]+/.test(mq.url)) {
    problems.push('[rabbitmq] url: must look like amqp://user:pass@host:5672 or amqps://host:5671');
  }
  if (mq.url && mq.groups.length === 0) mq.groups = ['*'];
  if (!mq.url && mq.groups.length > 0) problems.push('[rabbitmq] groups: set [rabbitmq] url too');
  for (const g of mq.groups) {
    if (g !== '*' && !/^[A-Za-z0-9_.-]{1,64}$/.test(g)) problems.push(`[rabbitmq] groups: '${g}' is not a group name`);
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(mq.prefix)) {
    problems.push(`[rabbitmq] prefix: '${mq.prefix}' must be letters, digits, '_', '.' or '-'`);
  }
  const n = config.notify;
  for (const event of n.on) {
    if (!(NOTIFY_EVENTS as readonly string[]).includes(event)) {
      problems.push(`[notify] on: '${event}' is not one of ${NOTIFY_EVENTS.join(', ')}`);
    }
  }
  for (const [key, url] of [
    ['webhook_url', n.webhookUrl],
    ['slack_url', n.slackUrl],
  ] as const) {
    // The value may be a credential (a Slack URL is): name the key, never echo it.
    if (url && !/^https?:\/\/[^/\s]+/.test(url)) problems.push(`[notify] ${key}: must be an http:// or https:// URL`);
  }
  if (n.smtpUrl && !/^smtps?:\/\/[^/\s]+/.test(n.smtpUrl)) {
    problems.push('[notify] smtp_url: must look like smtp://user:pass@host:587 or smtps://host:465');
  }
  if (n.smtpUrl && (!n.mailFrom || n.mailTo.length === 0)) {
    problems.push('[notify] smtp_url: set mail_from and mail_to too');
  }
  for (const address of [n.mailFrom, ...n.mailTo].filter(Boolean)) {
    if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address))
      problems.push(`[notify] mail_from/mail_to: '${address}' is not an address`);
  }

  if (config.redis.url && !/^rediss?:\/\//.test(config.redis.url)) {
    problems.push(`[redis] url: '${config.redis.url}' must start with redis:// or rediss://`);
  }
  for (const host of config.etcd.hosts) {
    if (!/^https?:\/\/[^/\s]+$/.test(host)) problems.push(`[etcd] hosts: '${host}' must look like http://host:port`);
  }
  if (!HOST_PORT.test(config.executor.advertise)) {
    problems.push(`[executor] advertise: '${config.executor.advertise}' must be host:port`);
  }
  for (const target of config.executor.staticTargets) {
    if (!HOST_PORT.test(target)) problems.push(`[executor] static_targets: '${target}' must be host:port`);
  }
  const { misfireThresholdSeconds: threshold, missedGraceSeconds: grace } = config.dispatcher;
  // The scheduler records a tick later than the threshold itself (misfire policy); the sweeper must leave it that
  // long, or a tick the scheduler is about to handle would be recorded as missed instead.
  const unread = (key: string) => problems.some((p) => p.startsWith(`[dispatcher] ${key}:`));
  if (grace <= threshold && !unread('misfire_threshold') && !unread('missed_grace')) {
    problems.push(
      `[dispatcher] missed_grace: ${grace} must be greater than [dispatcher] misfire_threshold (${threshold})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** `a.b.c.d`, `a.b.c.d/n` (n ≤ 32), an IPv6 address, or one with `/n` (n ≤ 128). */
export function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return false;
  if (slash === -1) return true;
  const bits = text.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}
