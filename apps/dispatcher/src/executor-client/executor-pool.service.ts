import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { EXECUTOR_DIRECTORY, ExecutorDirectory, ExecutorInfo } from '@app/discovery';
import type { Routing } from '@app/persistence';
import type { CancelReply, FollowOutputRequest, OutputChunk, RunBatchReply, RunRequest } from '@app/protocol';
import { ExecutorChannels } from './executor-channels';
import { rankExecutors } from './routing';

/** How long a dispatcher waits for an executor to accept or refuse a run. */
const SEND_DEADLINE_MS = 3000;
/**
 * Round-robin positions kept at most: jobs scheduled here are forgotten when unscheduled, but runs of other jobs
 * (retries and manual runs of jobs scheduled elsewhere, or deleted since) are ranked here too. Past the bound the
 * least recently used position goes: that job's rotation restarts, nothing else.
 */
export const MAX_ROTATIONS = 200_000;
/**
 * At start, how long the directory's first listing may hold the start up: long enough for etcd or the static
 * probes (2.5 s deadline) to answer normally, so the first ticks find their executors; short, because etcd may be
 * down and the API must come up anyway.
 */
const FIRST_LISTING_WAIT_MS = 3000;

/**
 * One gRPC channel per executor the directory lists, opened and closed as executors come and go, and the choice
 * of executor per job routing.
 */
@Injectable()
export class ExecutorPool implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ExecutorPool.name);
  /** Where each job's round-robin rotation stands. */
  private readonly rotations = new Map<number, { next: number }>();
  private readonly capacityListeners: (() => void)[] = [];
  private listedOnce = false;

  constructor(
    @Inject(EXECUTOR_DIRECTORY) private readonly directory: ExecutorDirectory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly channels: ExecutorChannels,
  ) {}

  /**
   * Starts the directory without waiting for etcd (free start order): after FIRST_LISTING_WAIT_MS the start goes on
   * with an empty list, runs wait `pending` (as the contract says when no executor can take them), health says
   * discovery is degraded, and the directory lists with back-off until etcd answers, then fills the list (onChange).
   */
  async onModuleInit(): Promise<void> {
    this.directory.onChange((list) => this.sync(list));
    const listing = this.directory.start().then(
      () => {
        this.listedOnce = true;
        this.sync(this.directory.list());
      },
      // Rejects only when stopped first.
      (e: Error) => this.logger.debug(`executor directory stopped before it listed: ${e.message}`),
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'waited'>(
      (resolve) => (timer = setTimeout(() => resolve('waited'), FIRST_LISTING_WAIT_MS)),
    );
    const first = await Promise.race([listing, waited]);
    clearTimeout(timer);
    if (first === 'waited') {
      this.logger.warn(
        `executor directory not listed within ${FIRST_LISTING_WAIT_MS} ms (etcd unreachable?): starting without ` +
          'executors; runs wait pending until discovery answers',
      );
    }
    this.sync(this.directory.list());
  }

  /** Whether the executor list follows discovery right now (etcd: the watch is attached). */
  get current(): boolean {
    return this.directory.isCurrent?.() ?? true;
  }

  /** Whether the directory has listed once since start: before, a missing executor says nothing about it. */
  get listed(): boolean {
    return this.listedOnce;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.directory.stop();
  }

  /** True when an executor missing from the list is certainly gone (etcd lease expired). */
  get absenceIsFinal(): boolean {
    return this.directory.absenceIsFinal;
  }

  executors(): ExecutorInfo[] {
    return this.directory.list();
  }

  /** Executors of the group in preference order for this job. */
  rank(group: string, routing: Routing, jobId: number): ExecutorInfo[] {
    let rotation = this.rotations.get(jobId);
    if (rotation) {
      // Re-inserted, so the map's order is least recently used first.
      this.rotations.delete(jobId);
    } else {
      // From the job's own place, not 0: jobs whose positions were dropped (or never kept) spread over executors.
      rotation = { next: jobId };
      if (this.rotations.size >= MAX_ROTATIONS) this.rotations.delete(this.rotations.keys().next().value!);
    }
    this.rotations.set(jobId, rotation);
    return rankExecutors(
      routing,
      jobId,
      this.executors().filter((e) => e.group === group),
      rotation,
    );
  }

  /** Round-robin positions held (bounded by MAX_ROTATIONS). */
  get rotationCount(): number {
    return this.rotations.size;
  }

  /** The job is gone from this dispatcher: its rotation is not needed any more. */
  forgetJob(jobId: number): void {
    this.rotations.delete(jobId);
  }

  /** The executors a broadcast job runs on now: every one of its group that is not draining. */
  broadcastTargets(group: string): ExecutorInfo[] {
    return this.executors().filter((e) => e.group === group && !e.draining);
  }

  /** Called when an executor's load drops or a new one appears: pending runs may now find room. */
  onCapacity(listener: () => void): void {
    this.capacityListeners.push(listener);
  }

  /**
   * Many runs in one call; every run is answered on its own (RunBatch). With `waitMs`, a full executor may hold the
   * call that long for room (at most 1 s): the deadline covers it.
   */
  sendBatch(address: string, runs: RunRequest[], waitMs = 0): Promise<RunBatchReply> {
    return this.client(address).runBatch({ runs, waitMs }, SEND_DEADLINE_MS + waitMs);
  }

  cancel(address: string, runId: number, reason: string): Promise<CancelReply> {
    return this.client(address).cancel({ runId, reason }, SEND_DEADLINE_MS);
  }

  /** A running run's output from its executor (FollowOutput), until `signal` aborts or the call ends. */
  followOutput(address: string, req: FollowOutputRequest, signal: AbortSignal): AsyncGenerator<OutputChunk> {
    return this.client(address).followOutput(req, signal);
  }

  private client(address: string) {
    return this.channels.get(address);
  }

  private previous = new Map<string, number>();

  private sync(list: ExecutorInfo[]): void {
    // Static targets keep their channel while down: discovery probes through it.
    const staticTargets = this.config.etcd.hosts.length === 0 ? this.config.executor.staticTargets : [];
    this.channels.retain(new Set([...list.map((e) => e.address), ...staticTargets]));
    let freed = false;
    for (const e of list) {
      this.client(e.address);
      const before = this.previous.get(e.address);
      if (before === undefined || e.running < before) freed = true;
    }
    this.previous = new Map(list.map((e) => [e.address, e.running]));
    if (freed) for (const l of this.capacityListeners) l();
  }
}
