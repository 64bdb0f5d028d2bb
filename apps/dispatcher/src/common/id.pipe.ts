import { BadRequestException, PipeTransform } from '@nestjs/common';

/** Path ids are positive integers; anything else is a 400 that names the parameter. */
export class IdPipe implements PipeTransform<string, number> {
  constructor(private readonly name = 'id') {}

  transform(value: string): number {
    if (!/^\d{1,9}$/.test(value) || Number(value) < 1) {
      throw new BadRequestException(`${this.name} must be a positive integer`);
    }
    return Number(value);
  }
}
