import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import { assignShards, LogThrottle, SHARD_COUNT, shardOf, withDeadline } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { etcdKeys, EtcdShardDirectory } from '@app/discovery';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';
import { DispatcherRegistry } from './dispatcher-registry.service';
import { ETCD_CLIENT } from './etcd-client.module';

/** Which shards this dispatcher started and stopped planning. */
export interface ShardChange {
  gained: number[];
  lost: number[];
}

/**
 * `all`: this dispatcher plans every job (no etcd, SQLite, or etcd not answering: the tick lock and the ledger's
 * unique key are the fence). `owned`: it plans its shards only.
 */
export type ShardMode = 'all' | 'owned';

/** Ownership is looked at again this often, besides on every change etcd reports. */
const EVALUATE_MS = 500;
/** At start, how long the scheduler waits for etcd to say which shards are this dispatcher's before planning all. */
const DECIDE_WAIT_MAX_MS = 5000;
/**
 * The first decision waits until the dispatcher list has not changed for this long: dispatchers started together
 * (a cluster's restart) then see each other before the first takes every shard and loads every job.
 */
const STARTUP_SETTLE_MS = 1000;
/**
 * A dispatcher alone in the list at its first decision waits this long after the list last changed: peers started
 * at the same time may still be migrating or booting, and taking every shard means loading every job (then giving
 * most of them back).
 */
const STARTUP_ALONE_MS = 3000;
/** At stop, how long revoking the lease may take before the shutdown goes on (it expires anyway). */
const FREE_AT_STOP_MS = 2000;
/** At stop, how long the jobs may take to leave the due queue with their cursors written. */
const HANDOVER_AT_STOP_MS = 5000;

/**
 * Which jobs this dispatcher plans (contract, "Sharing the work among dispatchers"). Jobs are in 256 shards,
 * n = crc32(jobId) mod 256; shard n is held in etcd at `{prefix}/shards/{n}` (value: the holder's id) on the
 * holder's dispatcher lease, so a dead dispatcher's shards are freed with its registration, within one TTL.
 *
 * Every dispatcher computes the same target from the live dispatcher list (assignShards: balanced, a join or a leave
 * moves about 1/k of the shards). It then takes the free shards targeted to it (a create-only transaction), and
 * gives back those it holds that are now another's: it stops planning them, writes their cursors, then deletes the
 * key, so the next holder loads them with up-to-date cursors. It plans the shards it holds, the free ones targeted to
 * it (from the moment it sees them free), and any shard that stayed without a live holder for a TTL (a safety net:
 * a stuck peer, a peer of an older version that never takes its shards).
 *
 * This dispatcher plans every job while its view of etcd is not trustworthy: its lease not renewed within a TTL,
 * either watch not live, or itself missing from the list. Two dispatchers planning one job is only extra work: the
 * tick lock and the ledger's unique key let one record each tick. A shard nobody plans can only be one whose holder
 * died (until its lease expires) or one in handover (milliseconds); its ticks are then late, not lost, since a new
 * planner walks from the ledger cursor.
 */
@Injectable()
export class ShardOwnership implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(ShardOwnership.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private readonly selfId: string;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly directory: EtcdShardDirectory | null;
  /**
   * 1 where this dispatcher plans the shard: every one without etcd; none with etcd until the first decision (the
   * scheduler waits for it; the passes then look at nothing rather than at every shard for a few seconds).
   */
  private planned: Uint8Array;
  private currentMode: ShardMode = 'all';
  /** Since when each shard has had no live holder (0: it has one). */
  private readonly freeSince = new Float64Array(SHARD_COUNT);
  /** Shards with a take or a give-back in flight. */
  private readonly busy = new Set<number>();
  private readonly listeners: ((change: ShardChange) => Promise<void>)[] = [];
  /** The listeners' work for the last change: a give-back waits for it before freeing the key. */
  private changeDone: Promise<void> = Promise.resolve();
  private assignment: { key: string; owners: string[] } | null = null;
  private decided = false;
  private readonly decidedWaiters: (() => void)[] = [];
  private evaluateQueued = false;
  private readonly createdAt = Date.now();
  private listChangedAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(ETCD_CLIENT) private readonly etcd: Etcd3 | null,
    private readonly registry: DispatcherRegistry,
    @Optional() private readonly metrics?: DispatcherMetrics,
  ) {
    this.selfId = config.dispatcher.id;
    this.prefix = config.etcd.prefix;
    this.ttlMs = config.etcd.leaseTtlSeconds * 1000;
    // Embedded (SQLite) is one dispatcher by design; without etcd there is nowhere to agree: plan everything.
    const shared = etcd !== null && config.database.type !== 'sqlite';
    this.directory = shared ? new EtcdShardDirectory(etcd, this.prefix) : null;
    this.planned = new Uint8Array(SHARD_COUNT).fill(this.directory ? 0 : 1);
    if (!this.directory) this.decide();
    metrics?.gauge('gocron_shards_planned', 'Shards this dispatcher plans (256 while it plans every job)', [], (set) =>
      set({}, this.plannedCount()),
    );
    metrics?.gauge(
      'gocron_shards_mode',
      'Whether this dispatcher plans its shards only (1) or every job (0: no etcd, SQLite, or etcd unreachable)',
      [],
      (set) => set({}, this.currentMode === 'owned' ? 1 : 0),
    );
  }

  onModuleInit(): void {
    if (!this.directory) return;
    // Ownership needs this dispatcher's lease: register now rather than once HTTP listens (idempotent).
    this.registry.register();
    this.registry.onListChanged(() => {
      this.listChangedAt = Date.now();
      this.evaluateSoon();
    });
    this.registry.onRegistered(() => this.evaluateSoon());
    this.directory.onChange(() => this.evaluateSoon());
    this.directory.start().catch(() => undefined);
    this.timer = setInterval(() => this.evaluate(), EVALUATE_MS);
    this.timer.unref();
    setTimeout(() => {
      // etcd answers and only the start-up settle is left: evaluate() decides in a moment.
      if (this.decided || this.stopping || this.trusted()) return;
      this.logger.warn(`etcd did not say which shards are this dispatcher's within ${DECIDE_WAIT_MAX_MS} ms`);
      this.setPlanned(new Uint8Array(SHARD_COUNT).fill(1), 'all');
      this.decide();
    }, DECIDE_WAIT_MAX_MS).unref();
  }

  /**
   * Hands every shard over at once: stops planning (the listeners write the cursors), then leaves etcd. Leaving
   * revokes the lease, which deletes this dispatcher's entry and its shard keys in one step: peers never see its
   * shards free while it is still listed (they would stay targeted to it), and a take that was in flight goes too.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.directory || this.stopping) return;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    const held = [...this.directory.holders()].filter(([, id]) => id === this.selfId).length;
    this.setPlanned(new Uint8Array(SHARD_COUNT), this.currentMode);
    await withDeadline(this.changeDone, HANDOVER_AT_STOP_MS, 'not done').catch((e: Error) =>
      this.logger.warn(
        `jobs not all handed over at stop (${e.message}): their cursors lag, the ledger keeps ticks once`,
      ),
    );
    // Bounded: with etcd unreachable the lease runs out instead (within a TTL).
    await withDeadline(this.registry.leave(), FREE_AT_STOP_MS, 'no answer from etcd')
      .then(() => this.logger.log(`left etcd, handing over ${held} shard(s)`))
      .catch((e: Error) => this.logger.warn(`could not leave etcd at stop (${e.message}): the lease will expire`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.directory?.stop();
  }

  get mode(): ShardMode {
    return this.currentMode;
  }

  /** Whether this dispatcher plans the job's ticks. */
  plans(jobId: number): boolean {
    return this.planned[shardOf(jobId)] === 1;
  }

  plansShard(n: number): boolean {
    return this.planned[n] === 1;
  }

  /** The shards this dispatcher plans, in order (every one while it plans all). */
  plannedShards(): number[] {
    const out: number[] = [];
    for (let n = 0; n < SHARD_COUNT; n++) if (this.planned[n] === 1) out.push(n);
    return out;
  }

  /** Null when this dispatcher plans every shard: a filter that lets everything through. */
  shardFilter(): number[] | null {
    const shards = this.plannedShards();
    return shards.length === SHARD_COUNT ? null : shards;
  }

  /**
   * Passes that look at the whole installation once (not per job) run on one dispatcher: the one planning shard 0
   * (every dispatcher while it plans all; at worst two for a moment during a handover).
   */
  get leads(): boolean {
    return this.planned[0] === 1;
  }

  /** The dispatcher holding the job's shard: etcd's word when it is live, this one without etcd, else null. */
  ownerOf(jobId: number): string | null {
    if (!this.directory) return this.selfId;
    if (this.currentMode !== 'owned') return null;
    return this.directory.holders().get(shardOf(jobId)) ?? null;
  }

  /** Shards held per dispatcher id, as etcd says (without etcd: every shard is this dispatcher's). */
  shardsByDispatcher(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    if (!this.directory) {
      out.set(this.selfId, [...Array(SHARD_COUNT).keys()]);
      return out;
    }
    for (const [n, id] of [...this.directory.holders()].sort((a, b) => a[0] - b[0])) {
      const list = out.get(id) ?? [];
      list.push(n);
      out.set(id, list);
    }
    return out;
  }

  /**
   * Called on every change of the planned set, one change at a time, in order; the returned promise must settle
   * once the lost shards' jobs are no longer planned here and their cursors are written.
   */
  onChange(listener: (change: ShardChange) => Promise<void>): void {
    this.listeners.push(listener);
  }

  /** Resolves once the first decision is made (at most DECIDE_WAIT_MAX_MS after start, then: every job). */
  whenDecided(): Promise<void> {
    if (this.decided) return Promise.resolve();
    return new Promise((resolve) => this.decidedWaiters.push(resolve));
  }

  private decide(): void {
    if (this.decided) return;
    this.decided = true;
    for (const w of this.decidedWaiters.splice(0)) w();
  }

  private evaluateSoon(): void {
    if (this.evaluateQueued) return;
    this.evaluateQueued = true;
    setImmediate(() => {
      this.evaluateQueued = false;
      this.evaluate();
    });
  }

  /** Looks at etcd's view and moves this dispatcher's shards toward the target (see the class comment). */
  private evaluate(): void {
    if (!this.directory || this.stopping) return;
    const now = Date.now();
    const dispatchers = this.registry.list().map((d) => d.id);
    if (!this.trusted(dispatchers)) {
      // Before the first decision, wait (up to DECIDE_WAIT_MAX_MS) rather than load every job for a moment.
      if (this.decided) this.setPlanned(new Uint8Array(SHARD_COUNT).fill(1), 'all');
      return;
    }
    // (A list that never stands still, a peer restarting in a loop, holds the first decision up to 3 × the wait.)
    if (!this.decided && now - this.createdAt < 3 * DECIDE_WAIT_MAX_MS) {
      const settle = dispatchers.length === 1 ? STARTUP_ALONE_MS : STARTUP_SETTLE_MS;
      if (now - this.listChangedAt < settle) return;
    }
    const target = this.targetFor(dispatchers);
    const alive = new Set(dispatchers);
    const holders = this.directory.holders();
    const next = new Uint8Array(SHARD_COUNT);
    const toTake: number[] = [];
    const toGive: number[] = [];
    const toClear: { n: number; holder: string }[] = [];
    for (let n = 0; n < SHARD_COUNT; n++) {
      const holder = holders.get(n);
      const held = holder !== undefined && alive.has(holder);
      if (held) this.freeSince[n] = 0;
      else if (this.freeSince[n] === 0) this.freeSince[n] = now;
      if (holder === this.selfId) {
        if (target[n] === this.selfId) next[n] = 1;
        else toGive.push(n);
      } else if (!held) {
        const stale = now - this.freeSince[n] > this.ttlMs;
        if (target[n] === this.selfId) {
          next[n] = 1;
          if (holder === undefined) toTake.push(n);
          // A key naming no live dispatcher for a TTL (written by hand, or by a registration that is gone without
          // its lease): its target removes it, then takes the shard.
          else if (stale) toClear.push({ n, holder });
        } else if (stale) {
          next[n] = 1;
        }
      }
    }
    // The planned set first: a give-back waits for it to be applied (no longer planned here) before freeing a key.
    this.setPlanned(next, 'owned');
    for (const n of toTake) this.take(n);
    for (const n of toGive) this.giveBack(n);
    for (const { n, holder } of toClear) this.clear(n, holder);
    this.decide();
  }

  /** Whether this dispatcher's view of etcd can be planned on (see the class comment). */
  private trusted(dispatchers = this.registry.list().map((d) => d.id)): boolean {
    return (
      this.directory !== null &&
      this.registry.leaseRenewedWithin(this.ttlMs) &&
      this.registry.listIsLive() &&
      this.directory.watchState().live &&
      dispatchers.includes(this.selfId)
    );
  }

  private targetFor(dispatchers: string[]): string[] {
    const key = [...dispatchers].sort().join('\n');
    if (this.assignment?.key !== key) this.assignment = { key, owners: assignShards(dispatchers) };
    return this.assignment.owners;
  }

  private setPlanned(next: Uint8Array, mode: ShardMode): void {
    if (mode !== this.currentMode) {
      this.logger.log(
        mode === 'all'
          ? 'etcd is not answering for this dispatcher: planning every job (the tick lock and the ledger keep each tick once)'
          : 'planning the shards this dispatcher owns',
      );
      this.currentMode = mode;
    }
    const gained: number[] = [];
    const lost: number[] = [];
    for (let n = 0; n < SHARD_COUNT; n++) {
      if (next[n] === this.planned[n]) continue;
      (next[n] === 1 ? gained : lost).push(n);
    }
    if (gained.length === 0 && lost.length === 0) return;
    this.planned = next;
    this.metrics?.shardHandovers.inc({ direction: 'gained' }, gained.length);
    this.metrics?.shardHandovers.inc({ direction: 'lost' }, lost.length);
    const change = { gained, lost };
    this.changeDone = this.changeDone.then(async () => {
      for (const l of this.listeners) {
        await l(change).catch((e: Error) => this.failures.warn('listener', `shard change: ${e.message}`));
      }
    });
  }

  /** Takes a free shard on this dispatcher's lease (only if nobody created its key meanwhile). */
  private take(n: number): void {
    if (this.busy.has(n)) return;
    const lease = this.registry.leaseId();
    if (!lease || !this.etcd) return;
    this.busy.add(n);
    const key = etcdKeys.shard(this.prefix, n);
    void lease
      .then((leaseId) =>
        this.etcd!.if(key, 'Create', '==', 0).then(this.etcd!.put(key).value(this.selfId).lease(leaseId)).commit(),
      )
      .catch((e: Error) => this.failures.warn('take', `cannot take shard ${n}: ${e.message}`))
      .finally(() => this.busy.delete(n));
  }

  /** Stops planning a held shard that is now another's, writes its cursors, then frees its key. */
  private giveBack(n: number): void {
    if (this.busy.has(n)) return;
    this.busy.add(n);
    void (async () => {
      await this.changeDone; // the planned set without n is being applied: let it finish
      if (this.plansShard(n)) return; // planned again since (the target moved back)
      await this.free(n);
    })()
      .catch((e: Error) => this.failures.warn('give', `cannot give shard ${n} back: ${e.message}`))
      .finally(() => this.busy.delete(n));
  }

  /** Deletes the shard's key if this dispatcher still holds it. */
  private async free(n: number, holder = this.selfId): Promise<void> {
    if (!this.etcd) return;
    const key = etcdKeys.shard(this.prefix, n);
    await this.etcd.if(key, 'Value', '==', holder).then(this.etcd.delete().key(key)).commit();
  }

  private clear(n: number, holder: string): void {
    if (this.busy.has(n)) return;
    this.busy.add(n);
    this.logger.warn(`shard ${n} is held by '${holder}', which is not a live dispatcher: removing the key`);
    void this.free(n, holder)
      .catch((e: Error) => this.failures.warn('clear', `cannot clear shard ${n}: ${e.message}`))
      .finally(() => this.busy.delete(n));
  }

  /** For /api/health: how this dispatcher divides the work now. */
  describe(): string {
    if (!this.directory) return 'plans every job (one dispatcher: no etcd, or SQLite)';
    if (this.currentMode === 'all') return 'plans every job: its view of etcd is not live (fenced by the tick lock)';
    return `plans ${this.plannedCount()} of ${SHARD_COUNT} shards`;
  }

  private plannedCount(): number {
    let c = 0;
    for (let n = 0; n < SHARD_COUNT; n++) c += this.planned[n];
    return c;
  }
}
