import { applyDecorators, ArgumentMetadata, BadRequestException, Injectable, ValidationPipe } from '@nestjs/common';
import { registerDecorator, ValidateIf, ValidationError, ValidationOptions } from 'class-validator';

/** The name of the {@link IsNotNull} constraint: a null value's only error is this one (ApiValidationPipe). */
export const IS_NOT_NULL = 'isNotNull';

/** Refuses `null`: "name must not be null". */
export function IsNotNull(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: IS_NOT_NULL,
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must not be null', ...options },
      validator: { validate: (v: unknown) => v !== null },
    });
}

/**
 * May be left out, but `null` is a value and refused (class-validator's IsOptional skips null as well, which let
 * `{"name": null}` through to a NOT NULL column: a 500).
 */
export function IsOptionalNotNull(): PropertyDecorator {
  return applyDecorators(
    ValidateIf((_o: object, v: unknown) => v !== undefined),
    IsNotNull(),
  );
}

/**
 * The API's validation: unknown fields rejected, values transformed, every bad field named. A body that is not a
 * JSON object is refused before class-transformer can turn an array into something odd. A field that is null where
 * null is refused gets one message, "x must not be null", not also every rule a null breaks.
 */
@Injectable()
export class ApiValidationPipe extends ValidationPipe {
  constructor() {
    super({ whitelist: true, forbidNonWhitelisted: true, transform: true, stopAtFirstError: false });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && metadata.metatype !== Object) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new BadRequestException('body: must be a JSON object');
      }
    }
    return super.transform(value, metadata);
  }

  /** Each message once (`QueryInt`'s three rules share one), a null's reason alone. */
  protected override flattenValidationErrors(validationErrors: ValidationError[]): string[] {
    return [...new Set(super.flattenValidationErrors(validationErrors.map(onlyNullReason)))];
  }
}

/** The error with only its not-null constraint where it has one; the tree is as deep as the body (bounded). */
function onlyNullReason(error: ValidationError): ValidationError {
  const notNull = error.constraints?.[IS_NOT_NULL];
  return {
    ...error,
    constraints: notNull !== undefined ? { [IS_NOT_NULL]: notNull } : error.constraints,
    children: error.children?.map(onlyNullReason),
  };
}
