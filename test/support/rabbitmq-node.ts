// A RabbitMQ node of a suite's own (its node name, ports, data and log directories, Erlang cookie), for tests that
// stop and restart the broker: the machine's shared broker is never touched. Started from the server's lib dir as
// the current user (Debian's /usr/sbin wrapper would switch to the rabbitmq user and its shared dirs).
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, tmpDir } from './services';
import { waitFor } from './wait';

const SERVER_CANDIDATES = ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/sbin/rabbitmq-server'];
const CTL_CANDIDATES = ['/usr/lib/rabbitmq/bin/rabbitmqctl', '/usr/sbin/rabbitmqctl'];

export interface RabbitNode {
  url: string;
  port: number;
  nodeName: string;
  /** Stops the node (rabbitmqctl stop: a clean shutdown, quorum queues on disk). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
}

function firstExisting(paths: string[]): string {
  const found = paths.find((p) => existsSync(p));
  if (!found) throw new Error(`RabbitMQ is not installed (none of ${paths.join(', ')}); run scripts/test-services.sh`);
  return found;
}

/** Whether an AMQP listener answers on the port (it replies to a bad 8-byte header with its own "AMQP" header). */
export function amqpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => socket.write('GOCRON!!'));
    socket.once('data', (d) => done(d.subarray(0, 4).toString() === 'AMQP'));
    socket.once('error', () => done(false));
  });
}

export async function startRabbitNode(suite: string): Promise<RabbitNode> {
  const server = firstExisting(SERVER_CANDIDATES);
  const ctl = firstExisting(CTL_CANDIDATES);
  const dir = tmpDir(`rabbit-${suite}`);
  for (const d of ['mnesia', 'log', 'home']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'enabled_plugins'), '');
  const port = await freePort();
  const distPort = await freePort();
  const nodeName = `gocron-${process.pid}-${port}@localhost`;
  const env = {
    ...process.env,
    HOME: join(dir, 'home'),
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
  };
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(server, [], { env, stdio: 'ignore', detached: false });
    await waitFor(() => amqpAnswers(port), { timeoutMs: 60_000, intervalMs: 250, what: `RabbitMQ node ${nodeName}` });
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    await promisify(execFile)(ctl, ['-n', nodeName, 'stop'], { env, timeout: 60_000 }).catch(() => {
      c.kill('SIGKILL');
    });
    await exited;
    child = null;
  };
  await start();
  return { url: `amqp://guest:guest@127.0.0.1:${port}`, port, nodeName, stop, start };
}
