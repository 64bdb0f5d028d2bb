import { BadRequestException, Controller, Get, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { IsISO8601, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { CronError, CronSchedule } from '@app/cron';
import { QueryInt } from '../common/query.decorators';
import { Access } from '../auth/access.decorator';

export class CronNextQuery {
  @ApiProperty({ example: '0 9 * * MON-FRI' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(255)
  expr!: string;

  @ApiPropertyOptional({ default: 'UTC', example: 'America/New_York' })
  @IsOptional()
  @IsString()
  tz: string = 'UTC';

  @ApiPropertyOptional({ description: 'ISO instant to start after; default now' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO 8601 instant' })
  from?: string;

  @ApiPropertyOptional({ default: 5, minimum: 1, maximum: 100 })
  @QueryInt(1, 100)
  count: number = 5;
}

export class CronNextResponse {
  @ApiProperty({ type: [String], example: ['2026-11-26T14:00:00.000Z'] }) next!: string[];
}

@ApiTags('cron')
@Controller('api/cron')
export class CronController {
  @Get('next')
  @Access('viewer')
  @ApiOperation({ summary: 'Next fire times of a cron expression in a time zone' })
  @ApiOkResponse({ type: CronNextResponse })
  @ApiBadRequestResponse({ description: 'the expression or zone is invalid; `message` says why' })
  next(@Query() q: CronNextQuery): CronNextResponse {
    try {
      const schedule = CronSchedule.parse(q.expr, { timezone: q.tz });
      const from = q.from ? new Date(q.from) : new Date();
      return { next: schedule.nextN(from, q.count).map((d) => d.toISOString()) };
    } catch (e) {
      if (e instanceof CronError) throw new BadRequestException(`expr: ${e.message}`);
      throw e;
    }
  }
}
