import { DataSource, DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '@app/config';
import { dataSourceOptions } from '@app/persistence';

/**
 * A DataSource on `db` with a single connection (MySQL), so that one session's counters see exactly the statements
 * of the code under test; destroyed after `fn`.
 */
export async function withOneConnection<T>(db: DatabaseConfig, fn: (ds: DataSource) => Promise<T>): Promise<T> {
  const ds = new DataSource({ ...dataSourceOptions(db), poolSize: 1 } as DataSourceOptions);
  await ds.initialize();
  try {
    return await fn(ds);
  } finally {
    await ds.destroy();
  }
}

/**
 * Rows the storage engine handed to the server for `fn`'s statements on `ds` (MySQL, one connection: see
 * withOneConnection): the session's Handler_read_* deltas. SHOW STATUS reads rows of its own (its temporary table),
 * so that is measured with nothing in between and taken off.
 */
export async function rowsTouched(ds: DataSource, fn: () => Promise<unknown>): Promise<number> {
  const read = async () => {
    const rows = await ds.query<{ Value: string }[]>(`SHOW SESSION STATUS LIKE 'Handler_read%'`);
    return rows.reduce((n, r) => n + Number(r.Value), 0);
  };
  const a = await read();
  const b = await read();
  await fn();
  const c = await read();
  return c - b - (b - a);
}
