import type { ConcurrencyPolicy, DependencyMode, HttpSpec, JobNotify, JobType, MisfirePolicy, Routing } from '../domain';
import { JobDependency, JobEntity, JobSecrets } from '../entities/job.entity';
import { ColumnsOf, columnList, flag, num, orNull, positions, text, Value } from './columns';
import { shared, sharedParse } from './shared-values';

/**
 * The jobs table for raw SQL: each JobEntity property's column and how its raw value is read. Text and JSON that
 * repeat across jobs are read as shared copies (shared-values.ts); `name` is unique, so it is not.
 */
export const JOB_COLUMNS = {
  id: { name: 'id', read: num },
  name: { name: 'name', read: text },
  description: { name: 'description', read: shared },
  cron: { name: 'cron', read: shared },
  timezone: { name: 'timezone', read: shared },
  type: { name: 'type', read: shared<JobType> },
  command: { name: 'command', read: orNull(shared) },
  env: { name: 'env', read: sharedParse<Record<string, string>> },
  http: { name: 'http', read: orNull(sharedParse<HttpSpec>) },
  // Never shared: each sealed value is unique (its own IV), so sharing would only fill the table.
  secrets: { name: 'secrets', read: orNull((v) => JSON.parse(String(v)) as JobSecrets) },
  notify: { name: 'notify', read: orNull(sharedParse<JobNotify>) },
  dependsOn: { name: 'depends_on', read: orNull(sharedParse<JobDependency[]>) },
  dependencyMode: { name: 'dependency_mode', read: shared<DependencyMode> },
  dependencyWindowMs: { name: 'dependency_window_ms', read: num },
  timeoutMs: { name: 'timeout_ms', read: num },
  retries: { name: 'retries', read: num },
  retryBackoffMs: { name: 'retry_backoff_ms', read: num },
  concurrency: { name: 'concurrency', read: shared<ConcurrencyPolicy> },
  misfire: { name: 'misfire', read: shared<MisfirePolicy> },
  group: { name: 'group_name', read: shared },
  routing: { name: 'routing', read: shared<Routing> },
  enabled: { name: 'enabled', read: flag },
  scheduleSetAt: { name: 'schedule_set_at', read: num },
  lastTickAt: { name: 'last_tick_at', read: num },
  nextRunAt: { name: 'next_run_at', read: orNull(num) },
  verifyFrom: { name: 'verify_from', read: orNull(num) },
  version: { name: 'version', read: num },
  createdAt: { name: 'created_at', read: num },
  updatedAt: { name: 'updated_at', read: num },
} as const satisfies ColumnsOf<JobEntity>;

/** Every column of a job, in the order jobFromValues reads them. */
export const JOB_SELECT_LIST = columnList(JOB_COLUMNS);

const c = JOB_COLUMNS;
const at = positions(JOB_COLUMNS);

/**
 * A job from a row of JOB_SELECT_LIST. One literal (all fields in the object itself, none in a separate property
 * store: a dispatcher keeps 100,000 of these), then given JobEntity's prototype. A property left out does not
 * compile; one read from another property's column fails tables.spec.ts.
 */
export function jobFromValues(v: ArrayLike<Value>): JobEntity {
  const job: JobEntity = {
    id: c.id.read(v[at.id]),
    name: c.name.read(v[at.name]),
    description: c.description.read(v[at.description]),
    cron: c.cron.read(v[at.cron]),
    timezone: c.timezone.read(v[at.timezone]),
    type: c.type.read(v[at.type]),
    command: c.command.read(v[at.command]),
    env: c.env.read(v[at.env]),
    http: c.http.read(v[at.http]),
    secrets: c.secrets.read(v[at.secrets]),
    notify: c.notify.read(v[at.notify]),
    dependsOn: c.dependsOn.read(v[at.dependsOn]),
    dependencyMode: c.dependencyMode.read(v[at.dependencyMode]),
    dependencyWindowMs: c.dependencyWindowMs.read(v[at.dependencyWindowMs]),
    timeoutMs: c.timeoutMs.read(v[at.timeoutMs]),
    retries: c.retries.read(v[at.retries]),
    retryBackoffMs: c.retryBackoffMs.read(v[at.retryBackoffMs]),
    concurrency: c.concurrency.read(v[at.concurrency]),
    misfire: c.misfire.read(v[at.misfire]),
    group: c.group.read(v[at.group]),
    routing: c.routing.read(v[at.routing]),
    enabled: c.enabled.read(v[at.enabled]),
    scheduleSetAt: c.scheduleSetAt.read(v[at.scheduleSetAt]),
    lastTickAt: c.lastTickAt.read(v[at.lastTickAt]),
    nextRunAt: c.nextRunAt.read(v[at.nextRunAt]),
    verifyFrom: c.verifyFrom.read(v[at.verifyFrom]),
    version: c.version.read(v[at.version]),
    createdAt: c.createdAt.read(v[at.createdAt]),
    updatedAt: c.updatedAt.read(v[at.updatedAt]),
  };
  return Object.setPrototypeOf(job, JobEntity.prototype) as JobEntity;
}
