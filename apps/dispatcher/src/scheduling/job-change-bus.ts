import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { redisOptions } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';

/**
 * Tells the other dispatchers that a job changed, over Redis pub/sub on `{prefix}:jobs`, so a change made through
 * any dispatcher's API is live on all of them at once. Best effort: a lost message (Redis down, a dispatcher
 * reconnecting) is caught by every dispatcher's once-a-second reconcile from the database.
 */
@Injectable()
export class JobChangeBus implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JobChangeBus.name);
  private publisher: Redis | null = null;
  private subscriber: Redis | null = null;
  private readonly listeners: ((jobId: number) => void)[] = [];
  private readonly channel: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.channel = `${config.redis.prefix}:jobs`;
  }

  onJobChanged(listener: (jobId: number) => void): void {
    this.listeners.push(listener);
  }

  onApplicationBootstrap(): void {
    const url = this.config.redis.url;
    if (!url) return;
    this.publisher = new Redis(url, redisOptions('publisher'));
    this.subscriber = new Redis(url, redisOptions('subscriber'));
    for (const c of [this.publisher, this.subscriber]) c.on('error', () => undefined); // health reports Redis
    this.subscriber.on('ready', () => {
      this.subscriber?.subscribe(this.channel).catch((e: Error) => this.logger.warn(`subscribe failed: ${e.message}`));
    });
    this.subscriber.on('message', (_channel: string, message: string) => {
      const jobId = Number(message);
      if (Number.isSafeInteger(jobId)) for (const l of this.listeners) l(jobId);
    });
  }

  publish(jobId: number): void {
    this.publisher?.publish(this.channel, String(jobId)).catch(() => undefined);
  }

  onApplicationShutdown(): void {
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
  }
}
