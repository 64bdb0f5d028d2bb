// What the executor's transport security costs a RunBatch: the same empty RunBatch (no runs: nothing but the call
// itself) against one executor started four ways: no token (loopback), the token, the token over TLS, the token over
// mutual TLS; plus TokenCheck.accepts alone. `node --import tsx bench/executor-transport.ts [--calls=N]
// [--concurrency=C]` after `npm run build`; prints one JSON line per setup.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { bearerValue } from '@app/protocol';
import { ExecutorGrpcClient } from '../apps/dispatcher/src/executor-client/executor-grpc.client';
import { TokenCheck } from '../apps/executor/src/transport/token-check';
import { makeCertificates } from '../test/support/certificates';
import { sqliteEnv, startDispatcher, startExecutor } from '../test/support/gocron';
import { stopAllApps, TEST_EXECUTOR_TOKEN } from '../test/support/processes';
import { freePort, tmpDir } from '../test/support/services';

const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const CALLS = arg('calls', 5000);
const CONCURRENCY = arg('concurrency', 8);

interface Setup {
  name: string;
  executorEnv: Record<string, string>;
  credentials: grpc.ChannelCredentials;
  token: string;
}

async function measure(env: Record<string, string>, s: Setup): Promise<Record<string, number | string>> {
  const executor = await startExecutor({ ...env, ...s.executorEnv }, `bench-${s.name}`);
  const client = new ExecutorGrpcClient(executor.address, { credentials: s.credentials, token: s.token });
  try {
    const call = async () => {
      const t0 = process.hrtime.bigint();
      await client.runBatch({ runs: [], waitMs: 0 }, 5000);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    for (let i = 0; i < 500; i++) await call(); // warm-up (and the TLS handshake)
    const sequential: number[] = [];
    for (let i = 0; i < CALLS; i++) sequential.push(await call());
    let next = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < CALLS) await call();
      }),
    );
    const seconds = (Date.now() - t0) / 1000;
    sequential.sort((a, b) => a - b);
    const q = (p: number) => Number(sequential[Math.floor(p * (sequential.length - 1))].toFixed(3));
    const mean = sequential.reduce((a, b) => a + b, 0) / sequential.length;
    return {
      setup: s.name,
      calls: CALLS,
      meanMs: Number(mean.toFixed(3)),
      p50Ms: q(0.5),
      p99Ms: q(0.99),
      [`perSecondAt${CONCURRENCY}`]: Math.round(CALLS / seconds),
    };
  } finally {
    client.close();
    await executor.app.kill();
  }
}

function tokenCheckAlone(): Record<string, number | string> {
  const check = new TokenCheck(TEST_EXECUTOR_TOKEN);
  const md = new grpc.Metadata();
  md.set('authorization', bearerValue(TEST_EXECUTOR_TOKEN));
  const n = 200_000;
  for (let i = 0; i < 10_000; i++) check.accepts(md);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) check.accepts(md);
  return { setup: 'TokenCheck.accepts alone', nsPerCall: Math.round(Number(process.hrtime.bigint() - t0) / n) };
}

async function main(): Promise<void> {
  process.stdout.write(`${JSON.stringify(tokenCheckAlone())}\n`);
  const env = await sqliteEnv('bench-executor-transport');
  // One dispatcher migrates the schema the executors wait for; it is stopped before anything is measured.
  const d = await startDispatcher({ ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${await freePort()}` });
  await d.app.kill();
  const certs = makeCertificates(tmpDir('bench-executor-transport-certs'));
  const ca = readFileSync(certs.ca);
  const tls = { GOCRON_EXECUTOR_TLS_CERT: certs.serverCert, GOCRON_EXECUTOR_TLS_KEY: certs.serverKey };
  const insecure = grpc.credentials.createInsecure();
  const setups: Setup[] = [
    { name: 'no token', executorEnv: { GOCRON_EXECUTOR_TOKEN: '' }, credentials: insecure, token: '' },
    { name: 'token', executorEnv: {}, credentials: insecure, token: TEST_EXECUTOR_TOKEN },
    { name: 'token + TLS', executorEnv: tls, credentials: grpc.credentials.createSsl(ca), token: TEST_EXECUTOR_TOKEN },
    {
      name: 'token + mutual TLS',
      executorEnv: { ...tls, GOCRON_EXECUTOR_TLS_CA: certs.ca },
      credentials: grpc.credentials.createSsl(ca, readFileSync(certs.clientKey), readFileSync(certs.clientCert)),
      token: TEST_EXECUTOR_TOKEN,
    },
  ];
  try {
    for (const s of setups) process.stdout.write(`${JSON.stringify(await measure(env, s))}\n`);
  } finally {
    await stopAllApps();
  }
}

void main();
