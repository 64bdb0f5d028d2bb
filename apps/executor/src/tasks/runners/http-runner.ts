import { Injectable } from '@nestjs/common';
import { OutputBuffer } from './output-buffer';
import { HttpTask, MAX_TIMER_MS, RunContext, RunOutcome, RunningTask } from './task-runner';

/** fetch rejects a body on these. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

@Injectable()
export class HttpRunner {
  start(ctx: RunContext, task: HttpTask): RunningTask {
    return new HttpRun(ctx, task);
  }
}

/** One request. The timeout covers the whole exchange, response body included. */
class HttpRun implements RunningTask {
  readonly done: Promise<RunOutcome>;
  private readonly controller = new AbortController();
  private readonly output = new OutputBuffer();
  private stopping: { status: 'timed_out' | 'cancelled'; error: string } | null = null;
  private settled = false;
  private timeoutTimer: NodeJS.Timeout | null = null;

  constructor(ctx: RunContext, task: HttpTask) {
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
    this.controller.abort();
  }

  private async run(ctx: RunContext, task: HttpTask): Promise<RunOutcome> {
    let httpStatus: number | null = null;
    try {
      const method = task.method.toUpperCase();
      const headers = new Headers(task.headers);
      // Set after the task's own headers so that a job cannot disguise which run a request belongs to.
      headers.set('X-Gocron-Job-Id', String(ctx.jobId));
      headers.set('X-Gocron-Run-Id', String(ctx.runId));
      headers.set('X-Gocron-Scheduled-At', ctx.scheduledAt);
      headers.set('X-Gocron-Attempt', String(ctx.attempt));

      const response = await fetch(task.url, {
        method,
        headers,
        body: BODYLESS_METHODS.has(method) ? undefined : task.body,
        signal: this.controller.signal,
      });
      httpStatus = response.status;

      // Streamed into the bounded buffer: a large body must not be held whole.
      if (response.body) {
        const reader = response.body.getReader();
        for (;;) {
          const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
          if (done || !value) break;
          this.output.append(value);
        }
      }

      if (this.stopping) return this.outcome(this.stopping.status, httpStatus, this.stopping.error);
      if (statusExpected(response.status, task.expectStatus)) return this.outcome('succeeded', httpStatus, null);
      return this.outcome(
        'failed',
        httpStatus,
        `unexpected HTTP status ${response.status} (expected ${describeExpected(task.expectStatus)})`,
      );
    } catch (err) {
      if (this.stopping) return this.outcome(this.stopping.status, httpStatus, this.stopping.error);
      const message = describeFetchError(err);
      return this.outcome('failed', httpStatus, httpStatus === null ? message : `reading response body: ${message}`);
    }
  }

  private outcome(status: RunOutcome['status'], httpStatus: number | null, error: string | null): RunOutcome {
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

function statusExpected(status: number, expected: number[]): boolean {
  return expected.length > 0 ? expected.includes(status) : status >= 200 && status <= 299;
}

function describeExpected(expected: number[]): string {
  return expected.length > 0 ? expected.join(', ') : '200-299';
}

/**
 * fetch reports every network failure as TypeError('fetch failed'); the useful part (ECONNREFUSED, a DNS error) is
 * its cause, which for a host with several addresses is an AggregateError with an empty message.
 */
function describeFetchError(err: unknown): string {
  if (!isErrorLike(err)) return String(err);
  const cause = err.cause;
  if (isErrorLike(cause)) {
    if (cause.message) return cause.message;
    const first: unknown = Array.isArray(cause.errors) ? cause.errors[0] : undefined;
    if (isErrorLike(first) && first.message) return first.message;
    if (typeof cause.code === 'string') return cause.code;
  }
  return err.message || 'request failed';
}

interface ErrorLike {
  message: string;
  cause?: unknown;
  code?: unknown;
  errors?: unknown;
}

/** Not instanceof: fetch's errors may come from another realm (a vm context, a test sandbox). */
function isErrorLike(value: unknown): value is ErrorLike {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}
