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
  /** `misfire_threshold`: a tick this late while a dispatcher runs (a stalled loop, a database outage) is misfired. */
  misfireThresholdSeconds: number;
  /** `missed_grace`: a tick with no record this long after its time is recorded as missed; > misfireThresholdSeconds. */
  missedGraceSeconds: number;
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
