import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';
import { IANAZone } from 'luxon';

/** An IANA time zone name luxon knows (`Europe/Paris`, `UTC`). */
export function IsTimeZone(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isTimeZone',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: (a: ValidationArguments) => `${a.property}: unknown IANA time zone '${String(a.value)}'`,
        ...options,
      },
      validator: { validate: (v: unknown) => typeof v === 'string' && v !== '' && IANAZone.isValidZone(v) },
    });
}

/** A flat object whose values are all strings (env, headers), with keys of a sane shape and count. */
export function IsStringMap(
  keyPattern: RegExp,
  maxKeys: number,
  options?: ValidationOptions & { maxValueLength?: number; values?: ValueRule },
): PropertyDecorator {
  const maxValue = options?.maxValueLength ?? Infinity;
  const rule = options?.values ?? null;
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: (a: ValidationArguments) =>
          stringMapProblem(a.property, a.value, keyPattern, maxKeys, maxValue, rule) ?? '',
        ...options,
      },
      validator: { validate: (v: unknown) => stringMapProblem('', v, keyPattern, maxKeys, maxValue, rule) === null },
    });
}

/** What is wrong with a string map, naming the first bad key; null when nothing is. */
function stringMapProblem(
  property: string,
  v: unknown,
  keyPattern: RegExp,
  maxKeys: number,
  maxValue: number,
  rule: ValueRule | null,
): string | null {
  const shape = `${property} must be an object of at most ${maxKeys} string values with keys matching ${keyPattern}`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return shape;
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > maxKeys) return `${shape}, got ${entries.length} keys`;
  for (const [key, value] of entries) {
    if (!keyPattern.test(key)) return `${property}: key '${shortened(key)}' does not match ${keyPattern}`;
    if (typeof value !== 'string') {
      const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      return `${property}.${shortened(key)} must be a string, got ${got}`;
    }
    if (value.length > maxValue) return `${property}.${shortened(key)} is longer than ${maxValue} characters`;
    // Named, never quoted: the value may be a secret.
    if (rule && rule.refuse.test(value)) return `${property}.${shortened(key)} ${rule.says}`;
  }
  return null;
}

/** Characters a map's values may not hold, and what the refusal says (without the value). */
export interface ValueRule {
  refuse: RegExp;
  says: string;
}

/** A process environment can not carry a NUL byte: the run would fail at spawn with the value in Node's error. */
export const ENV_VALUE: ValueRule = { refuse: /\0/, says: 'holds a NUL byte, which an environment variable can not' };
/** What HTTP allows in a header value (RFC 9110 field-value: visible ASCII, space, tab, obs-text). */
export const HEADER_VALUE: ValueRule = {
  refuse: /[^\t\x20-\x7e\x80-\xff]/,
  says: 'holds a character a header value can not (control characters, CR, LF, or above U+00FF)',
};

/** A client's key as a message quotes it: a bad key can be as long as the body. */
function shortened(key: string): string {
  return key.length > 64 ? `${key.slice(0, 64)}…` : key;
}

/** An array of objects whose `jobId`s are all different (a job names each parent once). */
export function HasUniqueJobIds(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'hasUniqueJobIds',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: (a: ValidationArguments) => `${a.property}: job ${String(repeatedJobId(a.value))} is named twice`,
        ...options,
      },
      validator: { validate: (v: unknown) => repeatedJobId(v) === null },
    });
}

/** The first jobId an array names twice; null when none (or when it is not an array of objects: other rules say so). */
function repeatedJobId(v: unknown): unknown {
  if (!Array.isArray(v)) return null;
  const seen = new Set<unknown>();
  for (const item of v as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const id = (item as { jobId?: unknown }).jobId;
    if (id === undefined) continue;
    if (seen.has(id)) return id;
    seen.add(id);
  }
  return null;
}
