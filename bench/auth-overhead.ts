// What authentication costs an API request: the same reads against one dispatcher with [auth] enabled (a bearer
// token on every request) and with it off, on the embedded default. `node --import tsx bench/auth-overhead.ts
// [--requests=N] [--concurrency=C]`; prints one JSON line per setup and the difference.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { startDispatcher } from '../test/support/gocron';
import { tmpDir } from '../test/support/services';

const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const REQUESTS = arg('requests', 5000);
const CONCURRENCY = arg('concurrency', 8);

function get(agent: Agent, port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(Number(process.hrtime.bigint() - t0) / 1e6)
          : reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function measure(auth: boolean): Promise<Record<string, number | string>> {
  const token = `gct_${randomBytes(32).toString('base64url')}`;
  const env: Record<string, string> = {
    GOCRON_DATABASE_TYPE: 'sqlite',
    GOCRON_DATABASE_PATH: join(tmpDir('auth-overhead'), 'gocron.sqlite'),
    GOCRON_AUTH_ENABLED: String(auth),
    GOCRON_AUTH_ADMIN_TOKEN: token,
    // The limit is what is measured around, not what is measured.
    GOCRON_DISPATCHER_RATE_LIMIT: '1000000',
    GOCRON_DISPATCHER_RATE_BURST: '10000000',
  };
  const d = await startDispatcher(env, `auth-overhead-${auth}`);
  try {
    const headers: Record<string, string> = auth ? { authorization: `Bearer ${token}` } : {};
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const path = '/api/jobs?limit=1';
    for (let i = 0; i < 500; i++) await get(agent, d.port, path, headers); // warm-up
    const times: number[] = [];
    let next = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < REQUESTS) times.push(await get(agent, d.port, path, headers));
      }),
    );
    const seconds = (Date.now() - t0) / 1000;
    times.sort((a, b) => a - b);
    const q = (p: number) => Number(times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2));
    agent.destroy();
    return {
      auth: auth ? 'on' : 'off',
      requests: times.length,
      perSecond: Math.round(times.length / seconds),
      p50ms: q(0.5),
      p99ms: q(0.99),
    };
  } finally {
    await d.app.kill();
  }
}

async function main(): Promise<void> {
  const off = await measure(false);
  const on = await measure(true);
  process.stdout.write(`${JSON.stringify(off)}\n`);
  process.stdout.write(`${JSON.stringify(on)}\n`);
  const perSecondRatio = Number((Number(on.perSecond) / Number(off.perSecond)).toFixed(3));
  const p50DeltaMs = Number((Number(on.p50ms) - Number(off.p50ms)).toFixed(2));
  process.stdout.write(`${JSON.stringify({ perSecondRatio, p50DeltaMs })}\n`);
}

void main();
