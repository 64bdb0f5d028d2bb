// The HTTP stub (bench/stub.js) as a measured process of its own: the tasks' target, recording receive times.
// (test/support's startHttpStub runs inside the test process, so its CPU could not be told apart from the bench's.)
import { join } from 'node:path';
import type { Bench } from './bench';
import type { BenchProcess } from './processes';
import type { TickRecord } from './stats';

export interface Stub {
  proc: BenchProcess;
  url: string;
}

export async function startStub(bench: Bench, tag: string): Promise<Stub> {
  const proc = bench.procs.start(`stub-${tag}`, [join(__dirname, '..', 'stub.js')], { ...process.env });
  const { match } = await proc.waitForOutput(/listening (\d+)/, 10_000);
  return { proc, url: `http://127.0.0.1:${match[1]}` };
}

/** The requests received since the last dump; `key` is `g<jobId>` for gocron-ts, `b<scheduler id>` for BullMQ. */
export async function dumpStub(stub: Stub): Promise<TickRecord[]> {
  const recs = (await (await fetch(`${stub.url}/__dump`)).json()) as [number, string, number][];
  return recs.map(([t, key, sched]) => ({ key, sched, start: t }));
}

/**
 * The hits of one system's requests: gocron-ts's carry the job id header, BullMQ's the scheduler id, the floor's
 * (bench/floor.js) gocron-ts's headers with job ids f<i>.
 */
export function hitsOf(hits: TickRecord[], system: 'gocron' | 'bullmq' | 'floor'): TickRecord[] {
  const mark = { gocron: /^g\d/, bullmq: /^b/, floor: /^gf/ }[system];
  return hits.filter((h) => mark.test(h.key));
}

/** Runs `fn` with a fresh stub, stopped afterwards. */
export async function withStub<T>(bench: Bench, tag: string, fn: (stub: Stub) => Promise<T>): Promise<T> {
  const stub = await startStub(bench, tag);
  try {
    return await fn(stub);
  } finally {
    await stub.proc.stop();
  }
}
