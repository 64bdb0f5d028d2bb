import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseConfig } from '@app/config';
import type { DataSourceOptions } from 'typeorm';
import { JobEntity } from './entities/job.entity';
import { RunEntity } from './entities/run.entity';
import { MIGRATIONS } from './migrations';

export const ENTITIES = [JobEntity, RunEntity];

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
  if (db.path !== ':memory:') mkdirSync(dirname(db.path), { recursive: true });
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
    prepareDatabase: (db: { pragma(s: string): unknown }) => {
      db.pragma('synchronous = NORMAL');
    },
  };
}
