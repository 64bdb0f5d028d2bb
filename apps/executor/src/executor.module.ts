import { DynamicModule, Module } from '@nestjs/common';
import { loadSecretBoxOrExit, SecretBox } from '@app/common';
import { AppConfig, ConfigModule } from '@app/config';
import { etcdClient, EtcdRegistration, etcdKeys, NoopRegistration, REGISTRATION } from '@app/discovery';
import { PersistenceModule } from '@app/persistence';
import { EXECUTOR_ETCD } from './tasks/dispatcher-endpoints';
import { prepareTaskIsolationOrExit, TASK_ISOLATION } from './tasks/runners/task-isolation';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class ExecutorModule {
  static forRoot(config: AppConfig): DynamicModule {
    const { etcd, executor } = config;
    const client = etcd.hosts.length > 0 ? etcdClient(etcd.hosts) : null;
    const registration = client
      ? new EtcdRegistration(client, etcdKeys.executor(etcd.prefix, executor.group, executor.id), etcd.leaseTtlSeconds)
      : new NoopRegistration();
    return {
      module: ExecutorModule,
      global: true,
      imports: [ConfigModule.forRoot(config), PersistenceModule.forRoot(config.database), TasksModule],
      providers: [
        { provide: REGISTRATION, useValue: registration },
        { provide: EXECUTOR_ETCD, useValue: client },
        // The key that opens job secrets: [auth] secret_key, else data/secret.key (shared with a local dispatcher).
        { provide: SecretBox, useFactory: () => loadSecretBoxOrExit('executor', config.auth.secretKey) },
        { provide: TASK_ISOLATION, useFactory: () => prepareTaskIsolationOrExit(config) },
      ],
      exports: [REGISTRATION, EXECUTOR_ETCD, SecretBox, TASK_ISOLATION],
    };
  }
}
