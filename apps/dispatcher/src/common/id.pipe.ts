import { BadRequestException, PipeTransform } from '@nestjs/common';

/**
 * Path ids are positive integers: 64-bit in the database, exact as JS numbers up to 2^53 - 1. Anything else is a 400
 * that names the parameter.
 */
export class IdPipe implements PipeTransform<string, number> {
  constructor(private readonly name = 'id') {}

  transform(value: string): number {
    if (!/^\d{1,16}$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
      throw new BadRequestException(`${this.name} must be a positive integer`);
    }
    return Number(value);
  }
}
