// Connection settings for the loopback services that scripts/test-services.sh starts,
// and per-suite isolation on top of them (a database, key prefixes, ports, temp dirs).
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';

export interface TestServices {
  mysql: { host: string; port: number; user: string; password: string };
  redisUrl: string;
  /** Comma-separated, as the app's [etcd] hosts key takes it. */
  etcdHosts: string;
  /** The test RabbitMQ, e.g. amqp://guest:guest@127.0.0.1:5672. */
  amqpUrl: string;
}

/** Read at call time, from the GOCRON_TEST_* variables scripts/test-services.sh writes. */
export function testServices(env: NodeJS.ProcessEnv = process.env): TestServices {
  return {
    mysql: {
      host: env.GOCRON_TEST_MYSQL_HOST || '127.0.0.1',
      port: Number(env.GOCRON_TEST_MYSQL_PORT || 3306),
      user: env.GOCRON_TEST_MYSQL_USER || 'root',
      password: env.GOCRON_TEST_MYSQL_PASSWORD ?? '',
    },
    redisUrl: env.GOCRON_TEST_REDIS_URL || 'redis://127.0.0.1:6379',
    etcdHosts: env.GOCRON_TEST_ETCD_HOSTS || 'http://127.0.0.1:2379',
    amqpUrl: env.GOCRON_TEST_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672',
  };
}

/** Lower-case [a-z0-9_] slug of a suite name, at most `max` characters. */
function slug(suite: string, max: number): string {
  const s = suite
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return (s || 'suite').slice(0, max);
}

function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** A name no other suite, process or earlier run uses: `gocron-test-<suite>-<pid>-<random>`. */
export function uniquePrefix(suite: string): string {
  return `gocron-test-${slug(suite, 32).replace(/_/g, '-')}-${process.pid}-${randomSuffix()}`;
}

/** App config overrides that point at the test Redis under a fresh key prefix. */
export function redisEnv(suite: string): Record<string, string> {
  return { GOCRON_REDIS_URL: testServices().redisUrl, GOCRON_REDIS_PREFIX: uniquePrefix(suite) };
}

/** App config overrides that point at the test etcd under a fresh key prefix. */
export function etcdEnv(suite: string): Record<string, string> {
  return { GOCRON_ETCD_HOSTS: testServices().etcdHosts, GOCRON_ETCD_PREFIX: `/${uniquePrefix(suite)}` };
}

export interface TestDatabase {
  name: string;
  /** Drops the database; safe to call twice. */
  drop(): Promise<void>;
  /** App config overrides (GOCRON_DATABASE_*) that select this database. */
  env: Record<string, string>;
  /** The connection settings, for a suite's own mysql2/TypeORM connection. */
  connection: { host: string; port: number; user: string; password: string; database: string };
}

async function adminQuery(sql: string): Promise<void> {
  const { mysql } = testServices();
  const conn = await createConnection({
    host: mysql.host,
    port: mysql.port,
    user: mysql.user,
    password: mysql.password,
    connectTimeout: 10_000,
  });
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

/**
 * Creates an empty, uniquely named database for one suite (MySQL identifiers: at most 64 characters), with the
 * server's default collation for utf8mb4 unless `opts.collation` names one (the benchmarks use utf8mb4_bin).
 */
export async function createMysqlDatabase(suite: string, opts: { collation?: string } = {}): Promise<TestDatabase> {
  const { mysql } = testServices();
  const name = `gocron_test_${slug(suite, 24)}_${process.pid}_${randomSuffix()}`;
  const collate = opts.collation ? ` COLLATE ${opts.collation}` : '';
  await adminQuery(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4${collate}`);
  let dropped = false;
  return {
    name,
    async drop() {
      if (dropped) return;
      await adminQuery(`DROP DATABASE IF EXISTS \`${name}\``);
      dropped = true;
    },
    env: {
      GOCRON_DATABASE_TYPE: 'mysql',
      GOCRON_DATABASE_HOST: mysql.host,
      GOCRON_DATABASE_PORT: String(mysql.port),
      GOCRON_DATABASE_USERNAME: mysql.user,
      GOCRON_DATABASE_PASSWORD: mysql.password,
      GOCRON_DATABASE_DATABASE: name,
    },
    connection: { ...mysql, database: name },
  };
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it; it is released before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected address ${String(address)}`));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

/** A new empty directory under the OS temp dir, e.g. /tmp/gocron-test-<suite>-XXXXXX. */
export function tmpDir(suite: string): string {
  return mkdtempSync(join(tmpdir(), `gocron-test-${slug(suite, 32).replace(/_/g, '-')}-`));
}

/**
 * App config overrides that dispatch `groups` (default every group) through the test RabbitMQ under a fresh queue
 * prefix, so that suites never see each other's queues. Delete the queues afterwards with deleteBrokerQueues.
 */
export function brokerEnv(suite: string, groups = '*', url = testServices().amqpUrl): Record<string, string> {
  return {
    GOCRON_RABBITMQ_URL: url,
    GOCRON_RABBITMQ_GROUPS: groups,
    GOCRON_RABBITMQ_PREFIX: uniquePrefix(suite).replace(/[^A-Za-z0-9_.-]/g, '-'),
  };
}

/** Deletes the queues and the dead-letter exchange of a prefix: `{prefix}.runs.{group}`, `{prefix}.exec.{id}`, `{prefix}.dead`. */
export async function deleteBrokerQueues(
  prefix: string,
  names: { groups?: string[]; executors?: string[] },
  url = testServices().amqpUrl,
): Promise<void> {
  const amqp = await import('amqplib');
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    for (const q of [
      ...(names.groups ?? []).map((g) => `${prefix}.runs.${g}`),
      ...(names.executors ?? []).map((e) => `${prefix}.exec.${e}`),
      `${prefix}.dead`,
    ]) {
      await ch.deleteQueue(q);
    }
    await ch.deleteExchange(`${prefix}.dead`);
    await ch.close();
  } finally {
    await conn.close();
  }
}

/**
 * An etcd of a suite's own on loopback (Debian's /usr/bin/etcd), for tests that stop, pause or start it: a fresh data
 * directory, one member. Kill it (SIGKILL) in the suite's afterAll.
 */
export function spawnEtcd(clientPort: number, peerPort: number, suite: string): ChildProcess {
  return spawn(
    '/usr/bin/etcd',
    [
      '--data-dir',
      join(tmpDir(suite), 'data'),
      '--listen-client-urls',
      `http://127.0.0.1:${clientPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${clientPort}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      `default=http://127.0.0.1:${peerPort}`,
    ],
    { stdio: 'ignore' },
  );
}
