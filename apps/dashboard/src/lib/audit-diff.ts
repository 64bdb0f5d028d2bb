// An audit entry's before/after as a short list of what changed: `cron: "0 9 * * *" → "0 10 * * *"`. Nested
// objects (a job's `http`) are compared field by field under dotted paths; arrays and scalars as whole values.

export interface FieldChange {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

type Flat = Map<string, unknown>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function flatten(value: Record<string, unknown> | null, prefix = '', out: Flat = new Map()): Flat {
  if (!value) return out;
  for (const [key, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(v) && Object.keys(v).length > 0) flatten(v, path, out);
    else out.set(path, v);
  }
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The fields that differ, in the order `after` (then `before`) lists them; a creation lists all as added. */
export function changesOf(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): FieldChange[] {
  const b = flatten(before);
  const a = flatten(after);
  const out: FieldChange[] = [];
  for (const [path, value] of a) {
    if (!b.has(path)) out.push({ path, kind: 'added', after: value });
    else if (!same(b.get(path), value)) out.push({ path, kind: 'changed', before: b.get(path), after: value });
  }
  for (const [path, value] of b) if (!a.has(path)) out.push({ path, kind: 'removed', before: value });
  return out;
}

/** A value as compact JSON, cut to `max` characters with an ellipsis. */
export function compactJson(value: unknown, max = 60): string {
  const text = value === undefined ? '—' : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
