import { Module } from '@nestjs/common';
import { ParentRunsRepository } from '@app/persistence';
import { BrokerConsumer } from '../broker/broker-consumer.service';
import { ExecutorMetrics } from '../metrics/executor-metrics';
import { MetricsServer } from '../metrics/metrics-server';
import { ActiveRuns } from './active-runs';
import { DispatcherEndpoints } from './dispatcher-endpoints';
import { JobCache } from './job-cache';
import { LedgerWatch } from './ledger-watch.service';
import { ParentContexts } from './parent-contexts';
import { Presence } from './presence.service';
import { SecretOpener } from './secret-opener';
import { TaskLauncher } from './task-launcher';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

@Module({
  controllers: [TasksController],
  providers: [
    ExecutorMetrics,
    MetricsServer,
    ActiveRuns,
    DispatcherEndpoints,
    JobCache,
    SecretOpener,
    // The parent runs' facts a dependency run's task gets (executor only; run_links come from PersistenceModule).
    ParentRunsRepository,
    ParentContexts,
    TaskLauncher,
    LedgerWatch,
    Presence,
    TasksService,
    // [rabbitmq]: inert unless this executor's group is a broker group.
    BrokerConsumer,
  ],
  exports: [Presence],
})
export class TasksModule {}
