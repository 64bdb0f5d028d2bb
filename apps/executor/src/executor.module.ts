import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig, ConfigModule } from '@app/config';
import { etcdClient, EtcdRegistration, etcdKeys, NoopRegistration, REGISTRATION } from '@app/discovery';
import { PersistenceModule } from '@app/persistence';
import { prepareTaskIsolationOrExit, TASK_ISOLATION } from './tasks/runners/task-isolation';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class ExecutorModule {
  static forRoot(config: AppConfig): DynamicModule {
    const { etcd, executor } = config;
    const registration =
      etcd.hosts.length > 0
        ? new EtcdRegistration(
            etcdClient(etcd.hosts),
            etcdKeys.executor(etcd.prefix, executor.group, executor.id),
            etcd.leaseTtlSeconds,
          )
        : new NoopRegistration();
    return {
      module: ExecutorModule,
      global: true,
      imports: [ConfigModule.forRoot(config), PersistenceModule.forRoot(config.database), TasksModule],
      providers: [
        { provide: REGISTRATION, useValue: registration },
        { provide: TASK_ISOLATION, useFactory: () => prepareTaskIsolationOrExit(config) },
      ],
      exports: [REGISTRATION, TASK_ISOLATION],
    };
  }
}
