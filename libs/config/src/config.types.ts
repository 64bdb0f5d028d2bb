export type DatabaseType = 'sqlite' | 'mysql';

export interface DatabaseConfig {
  type: DatabaseType;
  path: string;
  username: string;
  password: string;
  host: string;
  port: number;
  database: string;
  charset: string;
}

export interface RedisConfig {
  /** Empty: in-process lock, one dispatcher only. */
  url: string;
  prefix: string;
}

export interface EtcdConfig {
  /** Empty: static discovery. */
  hosts: string[];
  prefix: string;
  leaseTtlSeconds: number;
}

export interface DispatcherConfig {
  host: string;
  port: number;
  id: string;
}

export interface ExecutorConfig {
  host: string;
  port: number;
  advertise: string;
  group: string;
  capacity: number;
  drainTimeoutSeconds: number;
  id: string;
  staticTargets: string[];
}

/** The one validated, typed configuration object both apps inject. */
export interface AppConfig {
  source: string;
  database: DatabaseConfig;
  redis: RedisConfig;
  etcd: EtcdConfig;
  dispatcher: DispatcherConfig;
  executor: ExecutorConfig;
}
