import { IsIn, IsOptional } from 'class-validator';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  NOTIFICATION_STATUSES,
  NOTIFY_CHANNELS,
  NOTIFY_EVENTS,
  type NotificationJson,
  type NotificationStatus,
  type NotifyChannel,
  type NotifyEvent,
  type PageJson,
} from '@app/contract';
import type { NotificationRow } from '@app/persistence';
import { PageQuery, QueryInt } from '../../common/query.decorators';
import { maskedTarget } from '../notify-settings';

/** Offsets go this deep; a notification list is for recent deliveries. */
export const MAX_NOTIFICATION_OFFSET = 10_000;

export class ListNotificationsQuery extends PageQuery {
  @ApiPropertyOptional({ minimum: 0, maximum: MAX_NOTIFICATION_OFFSET, default: 0 })
  @QueryInt(0, MAX_NOTIFICATION_OFFSET)
  override offset: number = 0;

  @ApiPropertyOptional({ enum: NOTIFICATION_STATUSES })
  @IsOptional()
  @IsIn(NOTIFICATION_STATUSES, { message: `status must be one of ${NOTIFICATION_STATUSES.join(', ')}` })
  status?: NotificationStatus;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class NotificationResponse implements NotificationJson {
  @ApiProperty() id!: number;
  @ApiProperty({ description: 'sent as X-Gocron-Delivery, the same on every attempt' }) deliveryId!: string;
  @ApiProperty() jobId!: number;
  @ApiProperty() runId!: number;
  @ApiProperty({ enum: NOTIFY_EVENTS }) event!: NotifyEvent;
  @ApiProperty({ enum: NOTIFY_CHANNELS }) channel!: NotifyChannel;
  @ApiProperty({
    example: 'https://hooks.slack.com/***',
    description: 'masked: scheme://host/*** for a URL, o***@example.com for addresses',
  })
  target!: string;
  @ApiProperty({ enum: NOTIFICATION_STATUSES }) status!: NotificationStatus;
  @ApiProperty() attempts!: number;
  @ApiPropertyOptional({ nullable: true, type: String }) nextAttemptAt!: string | null;
  @ApiProperty({ description: 'other events of the job, event and channel folded into this delivery' })
  folded!: number;
  @ApiPropertyOptional({
    nullable: true,
    type: Number,
    description: 'the row whose delivery carried this event (min_interval)',
  })
  foldedInto!: number | null;
  @ApiPropertyOptional({ nullable: true, type: String }) lastError!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({ nullable: true, type: String }) sentAt!: string | null;

  static of(n: NotificationRow): NotificationJson {
    return {
      id: n.id,
      deliveryId: n.deliveryId,
      jobId: n.jobId,
      runId: n.runId,
      event: n.event,
      channel: n.channel,
      target: maskedTarget(n.channel, n.target),
      status: n.status,
      attempts: n.attempts,
      nextAttemptAt: n.status === 'pending' && n.foldedInto === null ? iso(n.nextAttemptAt) : null,
      folded: n.folded,
      foldedInto: n.foldedInto,
      lastError: n.lastError,
      createdAt: new Date(n.createdAt).toISOString(),
      sentAt: iso(n.sentAt),
    };
  }
}

export class NotificationPage implements PageJson<NotificationJson> {
  @ApiProperty({ type: [NotificationResponse] }) items!: NotificationResponse[];
  @ApiProperty({ description: 'exact up to 10,000; beyond, 10,000 with totalCapped: true' }) total!: number;
  @ApiProperty() totalCapped!: boolean;
}
