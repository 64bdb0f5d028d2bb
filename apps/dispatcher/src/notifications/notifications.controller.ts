import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiReads } from '@app/persistence';
import { Access } from '../auth/access.decorator';
import { ListNotificationsQuery, NotificationPage, NotificationResponse } from './dto/notification.dto';

@ApiTags('notifications')
@Controller('api/notifications')
export class NotificationsController {
  constructor(private readonly reads: ApiReads) {}

  @Get()
  @Access('viewer')
  @ApiOperation({
    summary: 'Notification deliveries, newest first: pending, sent or failed, with attempts and the last error',
    description: 'Targets are masked (a webhook or Slack URL is a credential); no URL or secret is ever shown.',
  })
  @ApiOkResponse({ type: NotificationPage })
  @ApiBadRequestResponse({ description: 'a bad limit, offset or status; `message` names it' })
  async list(@Query() q: ListNotificationsQuery): Promise<NotificationPage> {
    const page = await this.reads.listNotifications(q);
    return {
      items: page.items.map((n) => NotificationResponse.of(n)),
      total: page.total,
      totalCapped: page.totalCapped,
    };
  }
}
