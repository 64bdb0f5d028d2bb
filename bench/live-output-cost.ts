// What the live output (LiveOutput, FollowOutput's ring) costs a run that nobody follows, beside the recorded
// capture (OutputBuffer) every run had before: the executor's event-loop time for the same writes.
// `npx tsx bench/live-output-cost.ts`; the median of 4 repetitions after one warm-up.
import { LiveOutput } from '../apps/executor/src/tasks/runners/live-output';
import { OutputBuffer } from '../apps/executor/src/tasks/runners/output-buffer';

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const line = Buffer.from('2024-01-01T00:00:00Z INFO processing item 12345 of 99999 status=ok détail ✓\n');
const chunk = Buffer.concat(Array<Buffer>(200).fill(line)); // ~16 KiB, a pipe read
const CHUNKS = 640; // ~10 MiB
const LINES = 160_000;
const SECRETS = ['s3cr3t-token-value-123', 'hunter22', 'AKIAEXAMPLEKEY00'];

const cases: Record<string, () => void> = {
  '10 MiB in 16 KiB chunks: OutputBuffer only': () => {
    const o = new OutputBuffer();
    for (let i = 0; i < CHUNKS; i++) o.append(chunk);
  },
  '10 MiB in 16 KiB chunks: OutputBuffer + LiveOutput, no secret': () => {
    const o = new OutputBuffer();
    const l = new LiveOutput([]);
    for (let i = 0; i < CHUNKS; i++) {
      o.append(chunk);
      l.append(chunk);
    }
  },
  '10 MiB in 16 KiB chunks: OutputBuffer + LiveOutput, 3 secrets': () => {
    const o = new OutputBuffer();
    const l = new LiveOutput(SECRETS);
    for (let i = 0; i < CHUNKS; i++) {
      o.append(chunk);
      l.append(chunk);
    }
  },
  '160k one-line chunks: OutputBuffer only': () => {
    const o = new OutputBuffer();
    for (let i = 0; i < LINES; i++) o.append(line);
  },
  '160k one-line chunks: LiveOutput only, no secret': () => {
    const l = new LiveOutput([]);
    for (let i = 0; i < LINES; i++) l.append(line);
  },
  '160k one-line chunks: LiveOutput only, 1 secret': () => {
    const l = new LiveOutput(['hunter22']);
    for (let i = 0; i < LINES; i++) l.append(line);
  },
  '8 MiB of `a` in 64 KiB chunks, secret `aaaa`': () => {
    const l = new LiveOutput(['aaaa']);
    const a = Buffer.alloc(65536, 'a');
    for (let i = 0; i < 128; i++) l.append(a);
  },
};

const runs: Record<string, number[]> = {};
for (let rep = 0; rep < 5; rep++) {
  for (const [name, fn] of Object.entries(cases)) (runs[name] ??= []).push(time(fn));
}
for (const [name, ms] of Object.entries(runs)) {
  const sorted = ms.slice(1).sort((a, b) => a - b);
  process.stdout.write(`${name}: ${((sorted[1] + sorted[2]) / 2).toFixed(1)} ms (min ${sorted[0].toFixed(1)})\n`);
}
