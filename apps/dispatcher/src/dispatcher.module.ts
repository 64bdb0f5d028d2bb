import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { ThrottlerModule } from '@nestjs/throttler';
import { loadSecretBoxOrExit, SecretBox } from '@app/common';
import { AppConfig, ConfigModule } from '@app/config';
import { InProcessLock, RedisTickLock, TICK_LOCK } from '@app/locking';
import { DispatcherRegistry } from './cluster/dispatcher-registry.service';
import { ShardOwnership } from './cluster/shard-ownership.service';
import { PersistenceModule } from '@app/persistence';
import { AuditLog } from './audit/audit-log.service';
import { AccessGuard } from './auth/access.guard';
import { AdminBootstrap } from './auth/admin-bootstrap';
import { SecretsStartup } from './jobs/secrets-startup';
import { AuditController, AuthController, TokensController, UsersController } from './auth/auth.controllers';
import { Authenticator } from './auth/authenticator.service';
import { FailureLimiter } from './auth/failure-limiter';
import { Sessions } from './auth/sessions.service';
import { StreamSlots } from './auth/stream-slots';
import { ApiThrottlerGuard, throttlerOptions } from './auth/throttling';
import { Tokens } from './auth/tokens.service';
import { Users } from './auth/users.service';
import { ClusterController } from './cluster/cluster.controller';
import { HealthController } from './cluster/health.controller';
import { CronController } from './cron/cron.controller';
import { DashboardController } from './dashboard/dashboard.controller';
import { EventsController } from './events/events.controller';
import { EventsService } from './events/events.service';
import { ExecutorClientModule } from './executor-client/executor-client.module';
import type { ExecutorLink } from './executor-client/executor-link';
import { JobsController } from './jobs/jobs.controller';
import { JobsService } from './jobs/jobs.service';
import { DispatcherMetrics } from './metrics/dispatcher-metrics';
import { MetricsController } from './metrics/metrics.controller';
import { RunsController } from './runs/runs.controller';
import { NotificationsController } from './notifications/notifications.controller';
import { Notifications } from './notifications/notifications.service';
import { RunOutput } from './runs/run-output.service';
import { RunsService } from './runs/runs.service';
import { Timers } from './common/timers.service';
import { LaunchLoop } from './launching/launch-loop.service';
import { LostRuns } from './launching/lost-runs.service';
import { PendingRuns } from './launching/pending-runs.service';
import { RunCanceller } from './launching/run-canceller.service';
import { RunLauncher } from './launching/run-launcher.service';
import { Retention } from './retention/retention.service';
import { JobChangeBus } from './scheduling/job-change-bus';
import { JobCursors } from './scheduling/job-cursors';
import { MissedTickSweeper } from './scheduling/missed-tick-sweeper';
import { SchedulerService } from './scheduling/scheduler.service';
import { TickClaimer } from './scheduling/tick-claimer';
import { DependencyPlanner } from './dependencies/dependency-planner.service';
import { BrokerController } from './broker/broker.controller';
import { BrokerPendingRuns } from './broker/broker-pending.service';
import { BrokerPublisher } from './broker/broker-publisher.service';
import { BrokerRuns } from './broker/broker-runs.service';
import { DeadLetters } from './broker/dead-letters.service';

@Module({})
export class DispatcherModule {
  /** `executorLink`: how to reach executors, read from `[executor]` by main.ts (executorLink()). */
  static forRoot(config: AppConfig, executorLink: ExecutorLink): DynamicModule {
    return {
      module: DispatcherModule,
      imports: [
        ConfigModule.forRoot(config),
        PersistenceModule.forRoot(config.database),
        ScheduleModule.forRoot(),
        ThrottlerModule.forRoot(throttlerOptions(config)),
        ExecutorClientModule.forRoot(executorLink),
      ],
      controllers: [
        JobsController,
        RunsController,
        CronController,
        ClusterController,
        HealthController,
        EventsController,
        MetricsController,
        DashboardController,
        AuthController,
        TokensController,
        UsersController,
        AuditController,
        NotificationsController,
        BrokerController,
      ],
      providers: [
        // Guards run in this order: how often this credential (or address) has called, then whether it may.
        { provide: APP_GUARD, useClass: ApiThrottlerGuard },
        AccessGuard,
        { provide: APP_GUARD, useExisting: AccessGuard },
        Authenticator,
        AuditLog,
        FailureLimiter,
        Sessions,
        Users,
        Tokens,
        StreamSlots,
        AdminBootstrap,
        // The key job secrets are sealed with: [auth] secret_key, else data/secret.key (generated once).
        { provide: SecretBox, useFactory: () => loadSecretBoxOrExit('dispatcher', config.auth.secretKey) },
        SecretsStartup,
        {
          provide: TICK_LOCK,
          useFactory: () => (config.redis.url ? new RedisTickLock(config.redis.url) : new InProcessLock()),
        },
        DispatcherRegistry,
        ShardOwnership,
        DispatcherMetrics,
        EventsService,
        Timers,
        JobChangeBus,
        RunLauncher,
        RunCanceller,
        PendingRuns,
        LostRuns,
        LaunchLoop,
        JobCursors,
        TickClaimer,
        DependencyPlanner,
        MissedTickSweeper,
        Retention,
        Notifications,
        SchedulerService,
        JobsService,
        RunsService,
        RunOutput,
        // [rabbitmq]: inert without a url.
        BrokerPublisher,
        BrokerRuns,
        BrokerPendingRuns,
        DeadLetters,
      ],
    };
  }
}
