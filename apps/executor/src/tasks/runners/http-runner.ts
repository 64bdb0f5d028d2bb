import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';
import { isIP } from 'node:net';
import { DEFAULT_HTTP_DENY } from '@app/config';
import { EgressPolicy, EgressRefused } from '@app/common';
import { OutputBuffer } from './output-buffer';
import { PARENT_RUN_IDS_HEADER } from './parent-env';
import { HttpTask, MAX_TIMER_MS, RunContext, TaskResult, RunningTask } from './task-runner';

/** No body is sent with these (as fetch does). */
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);
/** fetch's limit, kept so that behaviour did not change when the runner moved off fetch. */
const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** What fetch sends unless the job says otherwise (some APIs refuse a request without a User-Agent). */
const DEFAULT_HEADERS: http.OutgoingHttpHeaders = {
  accept: '*/*',
  'accept-encoding': 'gzip, deflate, br',
  'user-agent': 'gocron-ts',
};
/** Dropped when a redirect turns the request into a GET without a body. */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];
/** Dropped when a redirect leads to another origin. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key'];
/** The run headers a job's own headers can not replace. */
const RUN_HEADERS = [
  'x-gocron-job-id',
  'x-gocron-run-id',
  'x-gocron-scheduled-at',
  'x-gocron-attempt',
  PARENT_RUN_IDS_HEADER.toLowerCase(),
];

/**
 * Connections per host. A thousand jobs calling one host on the same second opened a thousand connections at once;
 * past the server's accept backlog (511 by default on Linux) the kernel drops SYNs, retried after 1 s and 3 s, and
 * the requests started seconds late. Up to this many run in parallel per host, the others wait in the agent for a
 * free socket (their timeout runs meanwhile); executors run 16 tasks at once by default, far below it.
 */
const SOCKETS_PER_HOST = 256;
/**
 * node:http with keep-alive agents rather than fetch: at a thousand requests a second, fetch's per-request machinery
 * (WHATWG streams, Headers, AbortSignal) was a quarter of the executor's CPU (docs/benchmarks.md). Sockets to one
 * host are reused across runs; LIFO keeps the warm ones in use.
 */
const agentOptions = {
  keepAlive: true,
  maxSockets: SOCKETS_PER_HOST,
  maxFreeSockets: SOCKETS_PER_HOST,
  scheduling: 'lifo' as const,
};
const AGENTS = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };

/** The default of `[executor] http_deny`, without dispatcher endpoints: what a runner built without a policy uses. */
const DEFAULT_POLICY = new EgressPolicy(
  [],
  DEFAULT_HTTP_DENY.split(',').map((s) => s.trim()),
);

export class HttpRunner {
  constructor(private readonly policy: EgressPolicy = DEFAULT_POLICY) {}

  /** `secretHeaders`: lower-case names of headers that are credentials too (dropped on a redirect elsewhere). */
  start(ctx: RunContext, task: HttpTask, secretHeaders: readonly string[] = []): RunningTask {
    return new HttpRun(ctx, task, this.policy, secretHeaders);
  }
}

class StoppedError extends Error {}
class TooManyRedirects extends Error {}

/** One request (and its redirects). The timeout covers the whole exchange, response body included. */
class HttpRun implements RunningTask {
  readonly done: Promise<TaskResult>;
  private readonly output = new OutputBuffer();
  private stopping: { status: 'timed_out' | 'cancelled'; error: string } | null = null;
  private settled = false;
  private timeoutTimer: NodeJS.Timeout | null = null;
  private current: http.ClientRequest | null = null;
  private readonly onOutput: (chunk: Buffer) => void;

  constructor(
    ctx: RunContext,
    task: HttpTask,
    private readonly policy: EgressPolicy,
    private readonly secretHeaders: readonly string[] = [],
  ) {
    this.onOutput = ctx.onOutput ?? (() => undefined);
    if (ctx.timeoutMs > 0) {
      this.timeoutTimer = setTimeout(
        () => this.stop('timed_out', `timed out after ${ctx.timeoutMs} ms`),
        Math.min(ctx.timeoutMs, MAX_TIMER_MS),
      );
    }
    this.done = this.run(ctx, task).then((outcome) => {
      this.settled = true;
      if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
      return outcome;
    });
  }

  cancel(reason?: string): void {
    this.stop('cancelled', reason || 'cancelled');
  }

  private stop(status: 'timed_out' | 'cancelled', error: string): void {
    if (this.settled || this.stopping) return;
    this.stopping = { status, error };
    this.current?.destroy(new StoppedError(error));
  }

  private async run(ctx: RunContext, task: HttpTask): Promise<TaskResult> {
    let httpStatus: number | null = null;
    try {
      let method = task.method.toUpperCase();
      let body: string | null = BODYLESS_METHODS.has(method) ? null : task.body;
      let url = new URL(task.url);
      const origin = url.origin;
      let headers = headersFor(ctx, task, body);
      for (let hop = 0; ; hop++) {
        this.throwIfStopped();
        const res = await this.send(url, method, headers, body);
        httpStatus = res.statusCode ?? null;
        const location = res.headers.location;
        if (httpStatus !== null && REDIRECTS.has(httpStatus) && location) {
          res.resume(); // the redirect's own body is not kept
          if (hop >= MAX_REDIRECTS) throw new TooManyRedirects(`redirect count exceeded (${MAX_REDIRECTS})`);
          url = new URL(location, url);
          // As fetch (and browsers): 303, and 301/302 after a POST, continue as a GET without a body.
          if (httpStatus === 303 || ((httpStatus === 301 || httpStatus === 302) && method === 'POST')) {
            if (method !== 'HEAD') method = 'GET';
            body = null;
            headers = without(headers, BODY_HEADERS);
          }
          // Credentials are not handed to another origin (as fetch does).
          if (url.origin !== origin) headers = without(headers, [...CREDENTIAL_HEADERS, ...this.secretHeaders]);
          continue;
        }
        // Streamed (and decompressed, as fetch does) into the bounded buffer: a large body must not be held whole.
        await this.readBody(res, method !== 'HEAD' && httpStatus !== 204 && httpStatus !== 304);
        break;
      }
      if (this.stopping) return this.outcome(this.stopping.status, httpStatus, this.stopping.error);
      if (statusExpected(httpStatus ?? 0, task.expectStatus)) return this.outcome('succeeded', httpStatus, null);
      return this.outcome(
        'failed',
        httpStatus,
        `unexpected HTTP status ${httpStatus} (expected ${describeExpected(task.expectStatus)})`,
      );
    } catch (err) {
      if (this.stopping) return this.outcome(this.stopping.status, httpStatus, this.stopping.error);
      const message = describeRequestError(err);
      const beforeBody = httpStatus === null || err instanceof TooManyRedirects || err instanceof EgressRefused;
      return this.outcome('failed', httpStatus, beforeBody ? message : `reading response body: ${message}`);
    }
  }

  /** A stop between two hops of a redirect: no further request goes out. */
  private throwIfStopped(): void {
    if (this.stopping) throw new StoppedError(this.stopping.error);
  }

  private send(url: URL, method: string, headers: http.OutgoingHttpHeaders, body: string | null) {
    const agent = AGENTS[url.protocol as keyof typeof AGENTS];
    if (!agent) return Promise.reject(new Error(`unsupported protocol ${url.protocol} (http: or https: only)`));
    const send = url.protocol === 'https:' ? https.request : http.request;
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    // An address literal is connected to without a lookup, so it is checked here; names are checked as they resolve.
    const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(literal) !== 0) {
      const why = this.policy.refusal(literal, port);
      if (why) return Promise.reject(new EgressRefused(`egress refused: ${why}`));
    }
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = send(url, { method, headers, agent, lookup: this.policy.lookupFor(port) }, resolve);
      // A kept-alive socket was checked when it connected; the policy may have changed since (a dispatcher joined).
      req.once('socket', (socket) => {
        const why = socket.remoteAddress ? this.policy.refusal(socket.remoteAddress, port) : null;
        if (why) req.destroy(new EgressRefused(`egress refused: ${why}`));
      });
      this.current = req;
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  }

  private readBody(res: http.IncomingMessage, hasBody: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      // A HEAD, 204 or 304 answer has no body to decode (an empty gzip stream is an error to zlib).
      const decoder = hasBody ? decoderFor(res.headers['content-encoding']) : null;
      const source: NodeJS.ReadableStream = decoder ? res.pipe(decoder) : res;
      if (decoder) {
        decoder.on('error', reject);
        res.on('error', (e) => decoder.destroy(e));
      }
      source.on('data', (chunk: Buffer) => {
        this.output.append(chunk);
        this.onOutput(chunk);
      });
      source.on('end', resolve);
      res.on('error', reject);
      // A connection closed mid-body (or destroyed by stop()) ends the response without 'end'.
      res.on('close', () => {
        if (!res.complete) reject(new Error('connection closed before the body ended'));
        else if (!decoder) resolve();
      });
    });
  }

  private outcome(status: TaskResult['status'], httpStatus: number | null, error: string | null): TaskResult {
    return {
      status,
      exitCode: null,
      httpStatus,
      output: this.output.toString(),
      outputTruncated: this.output.truncated,
      error,
    };
  }
}

/** The job's headers over fetch's defaults, then the run headers (which a job can not disguise), and a body length. */
function headersFor(ctx: RunContext, task: HttpTask, body: string | null): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = { ...DEFAULT_HEADERS };
  for (const [name, value] of Object.entries(task.headers)) {
    const lower = name.toLowerCase();
    if (RUN_HEADERS.includes(lower) || lower === 'content-length' || lower === 'host') continue;
    delete headers[lower]; // the defaults are lower-case
    headers[name] = value;
  }
  headers['X-Gocron-Job-Id'] = String(ctx.jobId);
  headers['X-Gocron-Run-Id'] = String(ctx.runId);
  headers['X-Gocron-Scheduled-At'] = ctx.scheduledAt;
  headers['X-Gocron-Attempt'] = String(ctx.attempt);
  if (ctx.parents) headers[PARENT_RUN_IDS_HEADER] = ctx.parents.runIds.join(',');
  if (body !== null) {
    headers['Content-Length'] = Buffer.byteLength(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'text/plain;charset=UTF-8';
    }
  }
  return headers;
}

function without(headers: http.OutgoingHttpHeaders, names: readonly string[]): http.OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !names.includes(name.toLowerCase())));
}

/** A decompressing stream for the response's Content-Encoding (fetch decodes these); null for identity. */
function decoderFor(encoding: string | undefined): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | null {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return null;
  }
}

function statusExpected(status: number, expected: number[]): boolean {
  return expected.length > 0 ? expected.includes(status) : status >= 200 && status <= 299;
}

function describeExpected(expected: number[]): string {
  return expected.length > 0 ? expected.join(', ') : '200-299';
}

/**
 * A network error's message names its cause (`connect ECONNREFUSED 127.0.0.1:80`); with several addresses for a
 * host, Node reports an AggregateError whose own message may be empty, and the first attempt's error says more.
 */
function describeRequestError(err: unknown): string {
  if (!isErrorLike(err)) return String(err);
  if (err.message) return err.message;
  const first: unknown = Array.isArray(err.errors) ? err.errors[0] : undefined;
  if (isErrorLike(first) && first.message) return first.message;
  if (typeof err.code === 'string') return err.code;
  return 'request failed';
}

interface ErrorLike {
  message: string;
  cause?: unknown;
  code?: unknown;
  errors?: unknown;
}

/** Not instanceof: errors may come from another realm (a vm context, a test sandbox). */
function isErrorLike(value: unknown): value is ErrorLike {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}
