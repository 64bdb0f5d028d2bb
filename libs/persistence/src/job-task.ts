import { httpSpecWithDefaults } from '@app/contract';
import type { HttpSpec } from './domain';
import type { JobEntity } from './entities/job.entity';

/** What a job's run executes, as its row holds it: a shell command with its extra environment, or an HTTP request. */
export type JobTask =
  { type: 'shell'; command: string; env: Record<string, string> } | { type: 'http'; http: HttpSpec<string> };

/**
 * The task of a job as stored, or why it has none: a row no API call would write (an http job without its request, a
 * type nobody knows, an `env` or header value that is not a string). The executor builds every run's task with it,
 * from the row it read itself; the dispatcher asks it before offering a run, so such a run fails with the reason
 * instead of being offered.
 */
export function jobTaskOf(job: JobEntity): { task: JobTask } | { problem: string } {
  switch (job.type) {
    case 'shell': {
      const env = stringMap(job, 'env', job.env);
      return typeof env === 'string' ? { problem: env } : { task: { type: 'shell', command: job.command ?? '', env } };
    }
    case 'http': {
      if (typeof job.http?.url !== 'string' || typeof job.http.method !== 'string') {
        return { problem: `job ${job.id} is an http job without its http request (method and url)` };
      }
      if (!/^https?:\/\//i.test(job.http.url)) return { problem: `job ${job.id}'s http.url is not an http(s) URL` };
      const http = httpSpecWithDefaults(job.http);
      const headers = stringMap(job, 'http.headers', http.headers);
      return typeof headers === 'string'
        ? { problem: headers }
        : { task: { type: 'http', http: { ...http, headers } } };
    }
    default:
      return { problem: `job ${job.id} has an unknown type '${String(job.type)}'` };
  }
}

/** A map of strings as stored (null: none), or the problem with it. */
function stringMap(job: JobEntity, field: string, map: Record<string, string> | null): Record<string, string> | string {
  if (map === null || map === undefined) return {};
  if (typeof map !== 'object' || Array.isArray(map)) return `job ${job.id}'s ${field} is not a map of strings`;
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== 'string') return `job ${job.id}'s ${field}.${k} is not a string`;
  }
  return map;
}
