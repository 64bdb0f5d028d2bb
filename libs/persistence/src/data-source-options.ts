import { registerShardFunction } from './sql/shard-condition';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import * as mysql2 from 'mysql2';
import { dirname } from 'node:path';
import type { DatabaseConfig } from '@app/config';
import type { DataSourceOptions } from 'typeorm';
import { JobEntity } from './entities/job.entity';
import { RunEntity } from './entities/run.entity';
import { AUTH_ENTITIES } from './entities/auth.entities';
import { MIGRATIONS } from './migrations';

export const ENTITIES = [JobEntity, RunEntity, ...AUTH_ENTITIES];

/** The API's own pool (MySQL): a few connections, every statement cut off after API_STATEMENT_TIMEOUT_S. */
export const API_POOL_SIZE = 4;
export const API_STATEMENT_TIMEOUT_S = 5;
/** Requests waiting for an API connection at most; past it a read fails at once (503) instead of queueing. */
export const API_QUEUE_LIMIT = 64;
const apiPoolLogger = new Logger('ApiDataSource');

/** TypeORM options for either dialect. `synchronize` stays off: the schema is the migrations'. */
export function dataSourceOptions(db: DatabaseConfig): DataSourceOptions {
  if (db.type === 'mysql') {
    return {
      type: 'mysql',
      host: db.host,
      port: db.port,
      username: db.username,
      password: db.password,
      database: db.database,
      charset: db.charset,
      entities: ENTITIES,
      migrations: MIGRATIONS,
      synchronize: false,
      poolSize: 10,
      // Fail fast on a dead server instead of hanging a request or a tick.
      connectTimeout: 5000,
      extra: { waitForConnections: true, queueLimit: 0 },
    };
  }
  if (db.path !== ':memory:') {
    // The file holds password hashes and jobs' environments: readable by this user only, from its creation
    // (SQLite gives its -wal and -shm files the database file's permissions).
    mkdirSync(dirname(db.path), { recursive: true, mode: 0o700 });
    closeSync(openSync(db.path, 'a', 0o600));
  }
  return {
    type: 'better-sqlite3',
    database: db.path,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    enableWAL: true,
    // The dispatcher and the executor share this file. better-sqlite3 waits for a busy database synchronously, so
    // that wait is kept to a few milliseconds; longer waits are retried asynchronously (retryBusy). At 100 ms, a
    // loaded executor's event loop froze long enough for its health probes to time out (benchmarks, W1 1000/s).
    timeout: 10,
    prepareDatabase: (db: { pragma(s: string): unknown } & Parameters<typeof registerShardFunction>[0]) => {
      db.pragma('synchronous = NORMAL');
      registerShardFunction(db);
    },
  };
}

/** A session's statement time limit: MariaDB's max_statement_time (s), else MySQL's max_execution_time (ms). */
function limitStatements(connection: mysql2.Connection, seconds: number): void {
  // Both queued at once, before any query of ours: each server knows one of them and refuses the other.
  let applied = 0;
  const done = (e: unknown) => {
    if (!e) applied++;
  };
  connection.query(`SET SESSION max_statement_time = ${seconds}`, done);
  connection.query(`SET SESSION max_execution_time = ${seconds * 1000}`, (e) => {
    done(e);
    if (applied === 0)
      apiPoolLogger.warn('neither max_statement_time nor max_execution_time applies: API reads are not time-limited');
  });
}

/**
 * Options for the pool the REST API reads through (MySQL): separate from the scheduler's, small, and with a
 * statement timeout set on every connection as it opens (before any query of ours runs on it), so that reads
 * can neither starve tick claims of connections nor run for minutes.
 */
export function apiDataSourceOptions(db: DatabaseConfig, timeoutSeconds = API_STATEMENT_TIMEOUT_S): DataSourceOptions {
  const base = dataSourceOptions(db);
  if (base.type !== 'mysql') return base;
  const driver = {
    ...mysql2,
    createPool: (options: mysql2.PoolOptions) => {
      const pool = mysql2.createPool(options);
      pool.on('connection', (connection) => limitStatements(connection, timeoutSeconds));
      return pool;
    },
  };
  return {
    ...base,
    name: 'api',
    poolSize: API_POOL_SIZE,
    driver,
    connectorPackage: 'mysql2',
    migrations: [],
    extra: { ...(base.extra as Record<string, unknown>), queueLimit: API_QUEUE_LIMIT },
  };
}
