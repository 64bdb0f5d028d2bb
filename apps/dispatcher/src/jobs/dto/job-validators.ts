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
  options?: ValidationOptions & { maxValueLength?: number },
): PropertyDecorator {
  const maxValue = options?.maxValueLength ?? Infinity;
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: (a: ValidationArguments) => stringMapProblem(a.property, a.value, keyPattern, maxKeys, maxValue) ?? '',
        ...options,
      },
      validator: { validate: (v: unknown) => stringMapProblem('', v, keyPattern, maxKeys, maxValue) === null },
    });
}

/** What is wrong with a string map, naming the first bad key; null when nothing is. */
function stringMapProblem(
  property: string,
  v: unknown,
  keyPattern: RegExp,
  maxKeys: number,
  maxValue: number,
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
  }
  return null;
}

/** A client's key as a message quotes it: a bad key can be as long as the body. */
function shortened(key: string): string {
  return key.length > 64 ? `${key.slice(0, 64)}…` : key;
}
