// What secrets cost: sealing and opening a value (SecretBox, AES-256-GCM), masking a 64 KiB output with 3 secrets,
// and masking a log line with 100 and with 10,000 values held. `node --import tsx bench/secrets-cost.ts`
import { SecretBox } from '../libs/common/src/secret-box';
import { maskPrepared, maskSecrets, prepareSecrets } from '../libs/common/src/secret-mask';
const box = new SecretBox(Buffer.alloc(32, 1));
const N = 100_000;
let t = process.hrtime.bigint();
const sealed: string[] = [];
for (let i = 0; i < N; i++) sealed.push(box.seal(`value-${i}-abcdefghijklmnop`, `gocron/job/${i}/env/TOKEN`));
const sealUs = Number(process.hrtime.bigint() - t) / N / 1000;
t = process.hrtime.bigint();
for (let i = 0; i < N; i++) box.open(sealed[i], `gocron/job/${i}/env/TOKEN`);
const openUs = Number(process.hrtime.bigint() - t) / N / 1000;
const out = 'x'.repeat(64 * 1024);
t = process.hrtime.bigint();
for (let i = 0; i < 1000; i++)
  maskSecrets(out, ['secret-value-1', 'secret-value-2', 'Bearer abcdefgh'], /\n… \[\d+ bytes omitted\] …\n/);
const maskUs = Number(process.hrtime.bigint() - t) / 1000 / 1000;
const line =
  'run failed job 123 run 456: connect ECONNREFUSED 127.0.0.1:80 executor e1 scheduledAt 2026-01-01T00:00:00Z';
const perLine = (n: number) => {
  const p = prepareSecrets(Array.from({ length: n }, (_, i) => `secret-value-${i}-xyz`));
  const s = process.hrtime.bigint();
  for (let i = 0; i < 1000; i++) maskPrepared(line, p);
  return Number(process.hrtime.bigint() - s) / 1000 / 1000;
};
process.stdout.write(
  `seal ${sealUs.toFixed(1)} µs, open ${openUs.toFixed(1)} µs per value; mask a 64 KiB output with 3 secrets ${maskUs.toFixed(1)} µs; ` +
    `a 110-char log line with 100 hidden values ${perLine(100).toFixed(1)} µs, with 10,000 ${perLine(10_000).toFixed(1)} µs\n`,
);
