import type { Value } from './columns';

/**
 * Shared copies of the values that repeat across jobs: cron, zone, policies, group, and the parsed `env` and
 * `http` (deep-frozen, since every job with the same JSON text gets the same object). A dispatcher keeps every
 * enabled job in memory, and 100,000 jobs mostly repeat a handful of these. Bounded: when full, it starts over.
 */
const MAX_SHARED = 4096;
const sharedStrings = new Map<string, string>();
const sharedJson = new Map<string, unknown>();

/** The shared copy of a text value; `T` narrows it to the column's union (a policy, a type). */
export function shared<T extends string = string>(v: Value): T {
  const s = String(v);
  const found = sharedStrings.get(s);
  if (found !== undefined) return found as T;
  if (sharedStrings.size >= MAX_SHARED) sharedStrings.clear();
  sharedStrings.set(s, s);
  return s as T;
}

/** The shared, deep-frozen value of a JSON column. */
export function sharedParse<T>(v: Value): T {
  const text = String(v);
  if (sharedJson.has(text)) return sharedJson.get(text) as T;
  const value = deepFreeze(JSON.parse(text) as unknown);
  if (sharedJson.size >= MAX_SHARED) sharedJson.clear();
  sharedJson.set(text, value);
  return value as T;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
