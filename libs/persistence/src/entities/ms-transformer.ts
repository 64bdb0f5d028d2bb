import { ValueTransformer } from 'typeorm';

/**
 * Instants are stored as epoch milliseconds in BIGINT columns: one representation that sorts and compares the
 * same on SQLite and MySQL, with no driver time zone conversion in between. mysql2 hands BIGINT back as a string.
 */
export const epochMs: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? null : Number(value)),
};

/** 64-bit ids (BIGINT): mysql2 hands them back as strings; they stay JS numbers, exact up to 2^53. */
export const int64: ValueTransformer = epochMs;
