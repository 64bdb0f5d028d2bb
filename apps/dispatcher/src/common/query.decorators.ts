import { Transform } from 'class-transformer';
import { applyDecorators } from '@nestjs/common';
import { IsBoolean, IsInt, Max, Min } from 'class-validator';

/** A query boolean: `true` or `false` only. */
export function QueryBoolean(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value)),
    IsBoolean({ message: '$property must be true or false' }),
  );
}

/**
 * A query integer within bounds, e.g. limit 1..500, written in decimal digits: `Number()` alone would read `offset=`
 * as 0 and `1e2` or `0x10` as numbers. Anything else (a repeated parameter included) reaches IsInt as it came.
 */
export function QueryInt(min: number, max: number, hint?: string): PropertyDecorator {
  const message = `$property must be an integer from ${min} to ${max}${hint ? ` (${hint})` : ''}`;
  return applyDecorators(
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value,
    ),
    IsInt({ message }),
    Min(min, { message }),
    Max(max, { message }),
  );
}

export class PageQuery {
  /** 1..500 */
  @QueryInt(1, 500)
  limit: number = 50;

  /** ≥ 0 */
  @QueryInt(0, Number.MAX_SAFE_INTEGER)
  offset: number = 0;
}
