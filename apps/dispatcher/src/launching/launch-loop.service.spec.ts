import type { JobsRepository, RunsRepository } from '@app/persistence';
import type { Timers } from '../common/timers.service';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { EventsService } from '../events/events.service';
import { LaunchLoop } from './launch-loop.service';
import type { LostRuns } from './lost-runs.service';
import type { PendingRuns } from './pending-runs.service';
import type { RunLauncher } from './run-launcher.service';

describe('LaunchLoop', () => {
  function loop(fail: Set<string>) {
    const calls: string[] = [];
    const step = (name: string) => () => {
      calls.push(name);
      return fail.has(name) ? Promise.reject(new Error(`${name} broke`)) : Promise.resolve();
    };
    const pending = { expire: step('expire'), offer: step('offer') } as unknown as PendingRuns;
    const lost = { find: step('lost') } as unknown as LostRuns;
    const runs = { findRetriesOwed: step('repair').bind(null) } as unknown as RunsRepository;
    const launch = new LaunchLoop(
      pending,
      lost,
      {} as RunLauncher,
      {} as ExecutorPool,
      {} as Timers,
      runs,
      {} as JobsRepository,
      { runChanged: jest.fn() } as unknown as EventsService,
    );
    return { launch, calls };
  }

  it('runs every step of a pass on its own: one that throws skips none of the others', async () => {
    const { launch, calls } = loop(new Set(['expire', 'offer']));
    await expect(launch.pass()).resolves.toBeUndefined();
    expect(calls.slice(0, 3)).toEqual(['expire', 'offer', 'lost']);
    // And the next pass runs again (a failed step leaves nothing held).
    calls.length = 0;
    await launch.pass();
    expect(calls.slice(0, 3)).toEqual(['expire', 'offer', 'lost']);
  });

  it('looks for retries owed in full passes, on its own too', async () => {
    const { launch, calls } = loop(new Set(['lost', 'repair']));
    await expect(launch.pass()).resolves.toBeUndefined();
    expect(calls).toEqual(['expire', 'offer', 'lost', 'repair']);
    calls.length = 0;
    await launch.pass(false);
    expect(calls).toEqual(['offer']);
  });

  it('chains a quick pass after one that left a backlog, and a full pass asked for meanwhile is that next pass', async () => {
    const { launch, calls } = loop(new Set());
    let release!: (backlog: boolean) => void;
    const offers: Promise<boolean>[] = [new Promise((r) => (release = r))];
    const pending = (launch as unknown as { pending: PendingRuns }).pending;
    pending.offer = () => {
      calls.push('offer');
      return offers.shift() ?? Promise.resolve(false);
    };
    const first = launch.pass(false);
    // The interval's full pass, while the quick one offers: it does not run beside it, it is owed.
    await launch.pass();
    expect(calls).toEqual(['offer']);
    release(true);
    await first;
    await waitFor(() => calls.includes('lost'));
    expect(calls).toEqual(['offer', 'expire', 'offer', 'lost', 'repair']);
    // Owed once: the pass after that, asked for as quick, is quick.
    calls.length = 0;
    await launch.pass(false);
    expect(calls).toEqual(['offer']);
  });

  it('follows a pass with the quick pass asked for meanwhile, and owes at most one full pass per 500 ms', async () => {
    const { launch, calls } = loop(new Set());
    const pending = (launch as unknown as { pending: PendingRuns }).pending;
    const gates: ((backlog: boolean) => void)[] = [];
    pending.offer = () => {
      calls.push('offer');
      return new Promise<boolean>((r) => gates.push(r));
    };
    // A full pass runs; a retry's quick pass asked for meanwhile follows it (no backlog).
    const first = launch.pass();
    await waitFor(() => gates.length === 1);
    await launch.pass(false);
    gates.shift()!(false);
    await first;
    await waitFor(() => gates.length === 1);
    expect(calls).toEqual(['expire', 'offer', 'lost', 'repair', 'offer']);
    // During that quick pass, within 500 ms of the full one, a full pass asked for is owed as a quick one.
    calls.length = 0;
    await launch.pass();
    gates.shift()!(false);
    await waitFor(() => gates.length === 1);
    expect(calls).toEqual(['offer']); // the pass that followed: quick, not full
    gates.shift()!(false);
    await waitFor(() => !(launch as unknown as { running: boolean }).running);
  });
});

async function waitFor(done: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error(`not done within ${ms} ms`);
    await new Promise((r) => setImmediate(r));
  }
}
