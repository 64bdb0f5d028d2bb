import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseConfig } from '@app/config';
import { createMysqlDatabase, tmpDir } from './services';

/** The two ledger dialects for integration suites: each `fresh()` is a new, empty database of the suite's own. */
export interface Dialect {
  name: 'sqlite' | 'mysql';
  /** A new, empty database (SQLite: a new file); removed by cleanup(). */
  fresh(): Promise<DatabaseConfig>;
  cleanup(): Promise<void>;
}

/** The database config of a SQLite file (or ':memory:'). */
export function sqliteConfig(path: string): DatabaseConfig {
  return { type: 'sqlite', path, username: '', password: '', host: '', port: 0, database: '', charset: '' };
}

export function sqliteDialect(): Dialect {
  const dirs: string[] = [];
  return {
    name: 'sqlite',
    async fresh() {
      const dir = tmpDir('ledger-sqlite');
      dirs.push(dir);
      return sqliteConfig(join(dir, 'gocron.sqlite'));
    },
    async cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function mysqlDialect(): Dialect {
  const drops: (() => Promise<void>)[] = [];
  return {
    name: 'mysql',
    async fresh() {
      const db = await createMysqlDatabase('ledger');
      drops.push(() => db.drop());
      const c = db.connection;
      return {
        type: 'mysql',
        path: '',
        host: c.host,
        port: c.port,
        username: c.user,
        password: c.password,
        database: c.database,
        charset: 'utf8mb4',
      };
    },
    async cleanup() {
      for (const drop of drops.splice(0)) await drop();
    },
  };
}
