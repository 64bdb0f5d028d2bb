// The raw-SQL column lists against TypeORM's own view of the entities, and the mappers and writers derived from
// them: a column added to an entity but not to its list, or read from the wrong position, fails here.
import { DataSource, EntityTarget } from 'typeorm';
import { sqliteConfig } from '../../../../test/support/ledger-dialects';
import { dataSourceOptions } from '../data-source-options';
import { JobEntity } from '../entities/job.entity';
import { RunEntity } from '../entities/run.entity';
import { columnList, columnWrites, positions, Value } from './columns';
import { JOB_COLUMNS, JOB_SELECT_LIST, jobFromValues } from './jobs.table';
import { RUN_COLUMNS } from './runs.table';

describe('the column lists', () => {
  let ds: DataSource;

  beforeAll(async () => {
    ds = new DataSource(dataSourceOptions(sqliteConfig(':memory:')));
    await ds.initialize();
  });

  afterAll(() => ds.destroy());

  const typeormColumns = (entity: EntityTarget<unknown>) =>
    Object.fromEntries(ds.getMetadata(entity).columns.map((c) => [c.propertyName, c.databaseName]));

  it('name every JobEntity column as TypeORM does', () => {
    const names = Object.fromEntries(Object.entries(JOB_COLUMNS).map(([property, c]) => [property, c.name]));
    expect(names).toEqual(typeormColumns(JobEntity));
  });

  it('name every RunEntity column as TypeORM does', () => {
    expect({ ...RUN_COLUMNS }).toEqual(typeormColumns(RunEntity));
  });
});

describe('jobFromValues', () => {
  const at = positions(JOB_COLUMNS);
  const columns = JOB_SELECT_LIST.split(', ');

  it('finds each column at its position in JOB_SELECT_LIST', () => {
    expect(columns).toHaveLength(Object.keys(JOB_COLUMNS).length);
    for (const [property, c] of Object.entries(JOB_COLUMNS)) {
      expect([property, columns[at[property as keyof JobEntity]]]).toEqual([property, c.name]);
    }
  });

  it('reads every property from its own column, as a JobEntity', () => {
    // A distinct raw value per column (a number, a text, a JSON text at once), so a property read from another
    // column's position shows.
    const row: Value[] = columns.map((_, i) => String(1000 + i));
    const job = jobFromValues(row);
    expect(job).toBeInstanceOf(JobEntity);
    expect(Object.keys(job).sort()).toEqual(Object.keys(JOB_COLUMNS).sort());
    for (const [property, c] of Object.entries(JOB_COLUMNS)) {
      const value: unknown = c.read(row[columns.indexOf(c.name)]);
      expect([property, job[property as keyof JobEntity]]).toEqual([property, value]);
    }
  });

  it('reads NULL of a nullable column as null and the flag from 0 or 1', () => {
    const row: Value[] = columns.map(() => '1');
    row[at.command] = null;
    row[at.http] = null;
    row[at.nextRunAt] = null;
    expect(jobFromValues(row)).toMatchObject({ command: null, http: null, nextRunAt: null, enabled: true });
    row[at.enabled] = 0;
    expect(jobFromValues(row).enabled).toBe(false);
  });
});

describe('columnWrites', () => {
  interface Row {
    a: number;
    flagged: boolean;
    label: string | null;
  }
  const writes = columnWrites<Row, { n: number; s?: string }, number>(
    { a: 'col_a', flagged: 'is_flagged', label: 'label' },
    { label: (src) => src.s ?? null, a: (src, base) => base + src.n, flagged: (src) => (src.n > 1 ? 1 : 0) },
  );

  it('lists the written columns quoted, in the order of the writes', () => {
    expect(writes.columns).toEqual(['`label`', '`col_a`', '`is_flagged`']);
    expect(columnList({ x: { name: 'x', read: String }, y: { name: 'y_y', read: Number } })).toBe('x, y_y');
  });

  it('puts row after row in the same order, without gaps', () => {
    const out = new Array<unknown>(6);
    let at = 0;
    at = writes.put(out, at, { n: 1, s: 'one' }, 10);
    at = writes.put(out, at, { n: 2 }, 100);
    expect(at).toBe(6);
    expect(out).toEqual(['one', 11, 0, null, 102, 1]);
  });
});
