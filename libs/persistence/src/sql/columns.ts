/**
 * A column value as the drivers answer it: better-sqlite3 gives numbers, mysql2 gives BIGINT as a string (the
 * pool's options) and BOOLEAN (TINYINT) as 0 or 1.
 */
export type Value = string | number | null;

/** A property's value as the drivers bind it: a boolean as 0 or 1 (better-sqlite3 binds no booleans). */
export type Bound<T> = T extends boolean ? 0 | 1 : T;

/** A column read from raw rows: its SQL name, and how the driver's value becomes the property's. */
export interface Column<T> {
  readonly name: string;
  readonly read: (v: Value) => T;
}

/** Every property of entity E with its column: a property left out, or read as another type, does not compile. */
export type ColumnsOf<E> = { readonly [K in keyof E]-?: Column<E[K]> };

/** Every property of entity E with its SQL column name. */
export type ColumnNamesOf<E> = { readonly [K in keyof E]-?: string };

export const num = (v: Value): number => Number(v);
export const text = (v: Value): string => String(v);
export const flag = (v: Value): boolean => Boolean(Number(v));

export function orNull<T>(read: (v: Value) => T): (v: Value) => T | null {
  return (v) => (v === null ? null : read(v));
}

/** The SELECT list of `columns`: a row of it has the columns in the order of `columns`' properties. */
export function columnList(columns: Record<string, Column<unknown>>): string {
  return Object.values(columns)
    .map((c) => c.name)
    .join(', ');
}

/** Each property's index in a row of columnList(columns). */
export function positions<E>(columns: ColumnsOf<E>): { readonly [K in keyof E]-?: number } {
  return Object.fromEntries(Object.keys(columns).map((property, i) => [property, i])) as {
    [K in keyof E]-?: number;
  };
}

export const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/**
 * A value producer per written property, in statement order. Each answers the property's type as bound, so a
 * producer of the wrong value (or for a property the entity does not have) does not compile.
 */
export type Writes<E, A, B> = { readonly [K in keyof E]?: (a: A, b: B) => Bound<E[K]> };

/** The columns one statement writes and their values, from one list, so the two can not drift apart. */
export interface ColumnWrites<A, B> {
  /** SQL names, quoted (backticks: SQLite accepts them as MySQL does), in the order of the values. */
  readonly columns: readonly string[];
  /** Puts the values of one row into `out` from `at` on (no array of its own); answers the index after them. */
  put(out: unknown[], at: number, a: A, b: B): number;
}

export function columnWrites<E, A, B = void>(names: ColumnNamesOf<E>, writes: Writes<E, A, B>): ColumnWrites<A, B> {
  const properties = Object.keys(writes) as (keyof E & string)[];
  const produce = properties.map((p) => writes[p] as (a: A, b: B) => unknown);
  return {
    columns: properties.map((p) => `\`${names[p]}\``),
    put(out, at, a, b) {
      for (let i = 0; i < produce.length; i++) out[at + i] = produce[i](a, b);
      return at + produce.length;
    },
  };
}
