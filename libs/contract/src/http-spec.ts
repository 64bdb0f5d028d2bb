import type { HttpMethod } from './vocabulary';

/**
 * An HTTP task. `Method` is wider than HttpMethod only where the method arrives as a plain string (the executor's
 * gRPC request): the API accepts HTTP_METHODS alone.
 */
export interface HttpSpec<Method extends string = HttpMethod> {
  method: Method;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Empty means any 2xx. */
  expectStatus: number[];
}

/** An HTTP task as a client may write it: everything but the method and the URL has a default. */
export interface HttpSpecInput<Method extends string = HttpMethod> {
  method: Method;
  url: string;
  headers?: Record<string, string> | null;
  body?: string | null;
  expectStatus?: number[] | null;
  /** Write-only: stored encrypted, read back as `***` (see JobJson.http). */
  secretHeaders?: Record<string, string> | null;
}

/** A job's HTTP task as the API shows it: the secret headers' names, each with the value `***`. */
export interface JobHttpJson extends HttpSpec {
  secretHeaders: Record<string, string>;
}

/** The task with the contract's defaults filled in (no headers, empty body, any 2xx), and no other field. */
export function httpSpecWithDefaults<Method extends string>(spec: HttpSpecInput<Method>): HttpSpec<Method> {
  return {
    method: spec.method,
    url: spec.url,
    headers: spec.headers ?? {},
    body: spec.body ?? '',
    expectStatus: spec.expectStatus ?? [],
  };
}
