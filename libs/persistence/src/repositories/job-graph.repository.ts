import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Database } from 'better-sqlite3';
import { DataSource, EntityManager } from 'typeorm';
import { MAX_DEPENDENCY_DEPTH } from '../domain';
import { isDuplicateOn, JOB_NAME_KEY, retryBusy } from '../db-errors';
import { DependencyGraph, GraphProblem } from '../dependency-graph';
import { JobDependency, JobEntity } from '../entities/job.entity';
import { PersistenceError } from '../persistence.error';
import { placeholders } from '../sql/columns';
import { JobChanges, JobsRepository, JobUpdate, NewJob } from './jobs.repository';

/** Why a graph edit was refused (nothing was written). */
export type GraphRefusal =
  | { kind: 'missing_parents'; ids: number[] }
  | { kind: 'cycle'; path: { id: number; name: string | null }[] }
  | { kind: 'too_deep'; depth: number };

export type GraphCreate = { outcome: 'created'; job: JobEntity } | { outcome: 'refused'; refusal: GraphRefusal };
export type GraphUpdate = JobUpdate | { outcome: 'refused'; refusal: GraphRefusal };
export type GraphDelete =
  /** Deleted; `detached`: the children whose `dependsOn` lost it (and `paused`: those of them paused for it). */
  | { outcome: 'deleted'; detached: number[]; paused: number[] }
  | { outcome: 'not_found' }
  /** Other jobs depend on it and `force` was not given: nothing was written. */
  | { outcome: 'has_children'; children: { id: number; name: string }[] };

/** One statement of a graph transaction: a read (rows) or a write (its count and insert id). */
type Step = { sql: string; params: unknown[]; mode: 'rows' | 'write' };
interface Written {
  affected: number;
  insertId: number;
}
/** What a transaction's body comes to, and whether what it wrote stays. */
interface Ending<T> {
  value: T;
  commit: boolean;
}
/**
 * A transaction's body, written once for both dialects: it yields its statements and gets their results back, so
 * SQLite can run it synchronously (one driver transaction nothing else can join) and MySQL statement by statement.
 */
type Body<T> = Generator<Step, Ending<T>, unknown>;

function* rows<R>(sql: string, params: unknown[] = []): Generator<Step, R[], unknown> {
  return (yield { sql, params, mode: 'rows' }) as R[];
}

function* write(sql: string, params: unknown[] = []): Generator<Step, Written, unknown> {
  return (yield { sql, params, mode: 'write' }) as Written;
}

/** A child of a job being deleted, as read under the lock. */
interface ChildRow {
  id: number | string;
  name: string;
  cron: string;
  enabled: number | boolean;
  version: number | string;
  depends_on: string | null;
}

/** A duplicate job name as the coded error the API answers 409 with. */
const nameTaken =
  (name: string | undefined) =>
  (e: unknown): never => {
    if (isDuplicateOn(e, JOB_NAME_KEY))
      throw new PersistenceError('NAME_TAKEN', `a job named '${name}' already exists`);
    throw e;
  };

/** Rolls a transaction back while carrying its answer out. */
class RolledBack<T> extends Error {
  constructor(readonly value: T) {
    super('rolled back');
  }
}

/** Ids a statement at most: far below SQLite's bound variables and MySQL's packet limit. */
const CHUNK = 500;

/**
 * Edits of the dependency graph: every write that changes a job's parents (create and update with `dependsOn`,
 * delete) runs in one transaction that locks the graph first (the `graph_locks` row: SELECT … FOR UPDATE on MySQL;
 * on SQLite an immediate write transaction holds the database's one writer lock), then checks the parents against
 * the stored edges (they exist, no cycle, no chain deeper than MAX_DEPENDENCY_DEPTH) and writes the job row (the
 * optimistic version check stays) and its `job_dependencies` rows together. So two concurrent edits that would each
 * add half of a cycle are checked one after the other, and the second sees the first.
 *
 * The check reads every edge (`SELECT child_id, parent_id FROM job_dependencies`, on the primary key): a few tens of
 * milliseconds up to ~100,000 edges, and only on writes that change the graph.
 */
@Injectable()
export class JobGraphRepository {
  private readonly mysql: boolean;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly jobs: JobsRepository,
  ) {
    this.mysql = ds.options.type === 'mysql';
  }

  /** Inserts a job that has parents, with its edges. @throws PersistenceError NAME_TAKEN */
  async create(job: NewJob & { dependsOn: JobDependency[] }, now = Date.now()): Promise<GraphCreate> {
    const [insert, params] = this.jobs.insertStatement(this.jobs.newEntity(job, now)).getQueryAndParameters();
    const result = await this.run(() => this.creating(insert, params, job.dependsOn)).catch(nameTaken(job.name));
    if ('refusal' in result) return { outcome: 'refused', refusal: result.refusal };
    const created = await this.jobs.findById(result.id);
    if (!created) throw new Error(`job ${result.id} not found right after its insert`);
    return { outcome: 'created', job: created };
  }

  /**
   * update() of JobsRepository for a change that sets the job's parents (`changes.dependsOn`, null or [] for none):
   * the same compare-and-set on `expectedVersion`, in the graph transaction with the checks and the edges.
   * @throws PersistenceError NAME_TAKEN
   */
  async update(id: number, expectedVersion: number, changes: JobChanges, now = Date.now()): Promise<GraphUpdate> {
    const parents = changes.dependsOn ?? [];
    const [update, params] = this.jobs
      .updateStatement(id, expectedVersion, { ...changes, dependsOn: parents.length > 0 ? parents : null }, now)
      .getQueryAndParameters();
    const result = await this.run(() => this.updating(id, update, params, parents)).catch(nameTaken(changes.name));
    if (result === 'written' || result === 'missed') {
      const job = await this.jobs.findById(id);
      if (!job) return { outcome: 'not_found' };
      return result === 'written' ? { outcome: 'updated', job } : { outcome: 'stale', version: job.version };
    }
    return { outcome: 'refused', refusal: result };
  }

  /**
   * Deletes the job (with its tombstone, as JobsRepository.delete) and its edges. A job other jobs depend on is
   * refused unless `force`: then each child loses it from its `dependsOn` (its version bumped and updated_at set, so
   * every dispatcher's change feed sees it), and a child left with no parent and no cron is paused.
   */
  delete(id: number, force: boolean, now = Date.now()): Promise<GraphDelete> {
    return this.run(() => this.deleting(id, force, now));
  }

  private *creating(
    insert: string,
    params: unknown[],
    deps: JobDependency[],
  ): Body<{ refusal: GraphRefusal } | { id: number }> {
    yield* this.lock();
    const refusal = yield* this.refusalOf(null, deps);
    if (refusal) return { value: { refusal }, commit: false };
    const { insertId } = yield* write(insert, params);
    yield* this.replaceEdges(insertId, deps);
    return { value: { id: insertId }, commit: true };
  }

  private *updating(
    id: number,
    update: string,
    params: unknown[],
    deps: JobDependency[],
  ): Body<GraphRefusal | 'written' | 'missed'> {
    yield* this.lock();
    const refusal = yield* this.refusalOf(id, deps);
    if (refusal) return { value: refusal, commit: false };
    const { affected } = yield* write(update, params);
    // Another version (or no job): nothing is written, the caller reads which.
    if (affected === 0) return { value: 'missed', commit: false };
    yield* this.replaceEdges(id, deps);
    return { value: 'written', commit: true };
  }

  private *deleting(id: number, force: boolean, now: number): Body<GraphDelete> {
    yield* this.lock();
    const found = yield* rows(`SELECT id FROM jobs WHERE id = ?${this.forUpdate()}`, [id]);
    if (found.length === 0) return { value: { outcome: 'not_found' }, commit: false };
    const children = yield* rows<ChildRow>(
      `SELECT j.id, j.name, j.cron, j.enabled, j.version, j.depends_on FROM job_dependencies d ` +
        `JOIN jobs j ON j.id = d.child_id WHERE d.parent_id = ? ORDER BY j.id${this.forUpdate()}`,
      [id],
    );
    if (children.length > 0 && !force) {
      const named = children.map((c) => ({ id: Number(c.id), name: c.name }));
      return { value: { outcome: 'has_children', children: named }, commit: false };
    }
    const paused: number[] = [];
    for (const c of children) {
      const deps = (c.depends_on ? (JSON.parse(c.depends_on) as JobDependency[]) : []).filter((d) => d.jobId !== id);
      const changes: JobChanges = { dependsOn: deps.length > 0 ? deps : null };
      if (deps.length === 0 && c.cron === '' && Boolean(Number(c.enabled))) {
        // Nothing would ever start it again: paused, so that it reads as what it is.
        changes.enabled = false;
        changes.nextRunAt = null;
        paused.push(Number(c.id));
      }
      // The row is locked (MySQL) or the whole database is (SQLite): the version read is the one stored.
      const [sql, params] = this.jobs
        .updateStatement(Number(c.id), Number(c.version), changes, now)
        .getQueryAndParameters();
      yield* write(sql, params);
    }
    yield* write(`DELETE FROM job_dependencies WHERE parent_id = ? OR child_id = ?`, [id, id]);
    yield* write(`DELETE FROM jobs WHERE id = ?`, [id]);
    if (this.mysql) {
      yield* write(
        'INSERT INTO job_tombstones (job_id, deleted_at) VALUES (?, ?) ON DUPLICATE KEY UPDATE deleted_at = ?',
        [id, now, now],
      );
    } else {
      yield* write('INSERT OR REPLACE INTO job_tombstones (job_id, deleted_at) VALUES (?, ?)', [id, now]);
    }
    return { value: { outcome: 'deleted', detached: children.map((c) => Number(c.id)), paused }, commit: true };
  }

  /** The graph's lock: every edit of the graph takes it first, so the checks read what the last edit wrote. */
  private *lock(): Generator<Step, void, unknown> {
    if (this.mysql) yield* rows(`SELECT version FROM graph_locks WHERE name = 'jobs' FOR UPDATE`);
    const { affected } = yield* write(`UPDATE graph_locks SET version = version + 1 WHERE name = 'jobs'`);
    // The migration writes the row; a database restored without it gets it back (the write still serialises).
    if (affected === 0) yield* write(`INSERT INTO graph_locks (name, version) VALUES ('jobs', 1)`);
  }

  private forUpdate(): string {
    return this.mysql ? ' FOR UPDATE' : '';
  }

  /** What is wrong with giving the job (null: a new one) these parents, read under the lock; null when nothing. */
  private *refusalOf(jobId: number | null, deps: JobDependency[]): Generator<Step, GraphRefusal | null, unknown> {
    if (deps.length === 0) return null;
    const ids = deps.map((d) => d.jobId);
    const existing = new Set<number>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const part = ids.slice(i, i + CHUNK);
      const found = yield* rows<{ id: number | string }>(
        `SELECT id FROM jobs WHERE id IN (${placeholders(part.length)})`,
        part,
      );
      for (const r of found) existing.add(Number(r.id));
    }
    const missing = ids.filter((x) => !existing.has(x));
    if (missing.length > 0) return { kind: 'missing_parents', ids: missing };
    const edges = yield* rows<{ child_id: number | string; parent_id: number | string }>(
      `SELECT child_id, parent_id FROM job_dependencies`,
    );
    const graph = new DependencyGraph(
      edges.map((e) => ({ parentId: Number(e.parent_id), childId: Number(e.child_id) })),
    );
    const problem: GraphProblem | null = graph.check(jobId, ids, MAX_DEPENDENCY_DEPTH);
    if (!problem) return null;
    if (problem.kind === 'too_deep') return problem;
    const names = new Map<number, string>();
    const onPath = [...new Set(problem.path)];
    for (let i = 0; i < onPath.length; i += CHUNK) {
      const part = onPath.slice(i, i + CHUNK);
      const found = yield* rows<{ id: number | string; name: string }>(
        `SELECT id, name FROM jobs WHERE id IN (${placeholders(part.length)})`,
        part,
      );
      for (const r of found) names.set(Number(r.id), r.name);
    }
    return { kind: 'cycle', path: problem.path.map((id) => ({ id, name: names.get(id) ?? null })) };
  }

  /** The job's edges as its parents say. */
  private *replaceEdges(childId: number, deps: JobDependency[]): Generator<Step, void, unknown> {
    yield* write(`DELETE FROM job_dependencies WHERE child_id = ?`, [childId]);
    for (let i = 0; i < deps.length; i += CHUNK) {
      const part = deps.slice(i, i + CHUNK);
      yield* write(
        `INSERT INTO job_dependencies (child_id, parent_id, on_cond) VALUES ${part.map(() => '(?, ?, ?)').join(', ')}`,
        part.flatMap((d) => [childId, d.jobId, d.on]),
      );
    }
  }

  /** Runs a body in one transaction: committed when it says so, rolled back otherwise (and on any error). */
  private async run<T>(body: () => Body<T>): Promise<T> {
    try {
      return this.mysql ? await this.runMysql(body) : await this.runSqlite(body);
    } catch (e) {
      if (e instanceof RolledBack) return e.value as T;
      throw e;
    }
  }

  private runMysql<T>(body: () => Body<T>): Promise<T> {
    // READ COMMITTED: every read after the lock sees what the edit before it committed (under REPEATABLE READ the
    // snapshot is taken at the first plain read, which comes after the lock too; this says it outright). A
    // deadlock victim is rolled back whole and run again.
    return retryBusy(() =>
      this.ds.transaction('READ COMMITTED', async (m: EntityManager) => {
        const gen = body();
        let input: unknown = undefined;
        for (;;) {
          const next = gen.next(input);
          if (next.done) {
            if (!next.value.commit) throw new RolledBack(next.value.value);
            return next.value.value;
          }
          input = await this.execMysql(m, next.value);
        }
      }),
    );
  }

  private async execMysql(m: EntityManager, step: Step): Promise<unknown> {
    const result: unknown = await m.query(step.sql, step.params);
    if (step.mode === 'rows') return result;
    const header = result as { affectedRows?: number; insertId?: number | string };
    return { affected: header.affectedRows ?? 0, insertId: Number(header.insertId ?? 0) } satisfies Written;
  }

  /**
   * One synchronous driver transaction (as JobsRepository.delete): no other statement of this process can run
   * inside it, and BEGIN IMMEDIATE takes the database's writer lock before the first read, so another process can
   * not write between this check and this write. Every repository shares the driver's one connection: while
   * another transaction is open on it (a TypeORM transaction awaiting its next statement), ours would become a
   * savepoint inside it, so it waits for that one to end first.
   */
  private runSqlite<T>(body: () => Body<T>): Promise<T> {
    const db = (this.ds.driver as unknown as { databaseConnection: Database }).databaseConnection;
    const tx = db.transaction(() => {
      const gen = body();
      let input: unknown = undefined;
      for (;;) {
        const next = gen.next(input);
        if (next.done) {
          if (!next.value.commit) throw new RolledBack(next.value.value);
          return next.value.value;
        }
        const { sql, params, mode } = next.value;
        const statement = db.prepare(sql);
        if (mode === 'rows') input = statement.all(...params);
        else {
          const r = statement.run(...params);
          input = { affected: r.changes, insertId: Number(r.lastInsertRowid) } satisfies Written;
        }
      }
    });
    // Retried as a busy database is (another process holds the writer lock, or the connection is inside another
    // transaction), with back-off, up to the usual budget.
    return retryBusy(() => {
      if (db.inTransaction)
        throw Object.assign(new Error('connection inside another transaction'), { code: 'SQLITE_BUSY' });
      return Promise.resolve(tx.immediate());
    });
  }
}
