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
export function IsStringMap(keyPattern: RegExp, maxKeys: number, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: (a: ValidationArguments) =>
          `${a.property} must be an object of at most ${maxKeys} string values with keys matching ${keyPattern}`,
        ...options,
      },
      validator: {
        validate: (v: unknown) =>
          typeof v === 'object' &&
          v !== null &&
          !Array.isArray(v) &&
          Object.keys(v).length <= maxKeys &&
          Object.entries(v as Record<string, unknown>).every(
            ([k, val]) => keyPattern.test(k) && typeof val === 'string',
          ),
      },
    });
}
