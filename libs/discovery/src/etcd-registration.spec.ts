import { Logger } from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import { EtcdRegistration } from './etcd-registration';

/** A lease whose grant fails while `failing()` says so; records what the registration did with it. */
function fakeLease(failing: () => boolean) {
  const puts: string[] = [];
  const lease = {
    grant: jest.fn(() => (failing() ? Promise.reject(new Error('etcd down')) : Promise.resolve())),
    revoke: jest.fn(() => Promise.resolve()),
    release: jest.fn(),
    on: jest.fn(),
    put: () => ({ value: (v: string) => ({ exec: () => (puts.push(v), Promise.resolve()) }) }),
    puts,
  };
  return lease;
}

describe('EtcdRegistration', () => {
  let failures: number;
  let leases: ReturnType<typeof fakeLease>[];
  let warn: jest.SpyInstance;
  const client = {
    lease: () => {
      const lease = fakeLease(() => failures-- > 0);
      leases.push(lease);
      return lease;
    },
  } as unknown as Etcd3;

  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
    failures = 0;
    leases = [];
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('grants again with doubling waits until etcd answers, releasing each failed lease', async () => {
    failures = 3;
    const registration = new EtcdRegistration(client, '/gocron/executors/default/e1', 10);
    const put = registration.put({ id: 'e1' });
    await jest.advanceTimersByTimeAsync(200 + 400 + 800);
    await put;
    expect(warn.mock.calls.map(([m]) => m as string)).toEqual(
      [200, 400, 800].map(
        (ms) => `cannot register /gocron/executors/default/e1 in etcd (etcd down); retrying in ${ms} ms`,
      ),
    );
    expect(leases.map((l) => l.release.mock.calls.length)).toEqual([1, 1, 1, 0]);
    expect(leases[3].puts).toContain('{"id":"e1"}');
    await registration.stop();
    expect(leases[3].revoke).toHaveBeenCalled();
  });

  it('takes no lease after stop(), even while waiting to retry', async () => {
    failures = Infinity;
    const registration = new EtcdRegistration(client, '/gocron/executors/default/e1', 10);
    const put = registration.put({ id: 'e1' });
    await jest.advanceTimersByTimeAsync(0);
    expect(leases).toHaveLength(1);
    await registration.stop();
    await jest.advanceTimersByTimeAsync(10_000);
    await put;
    expect(leases).toHaveLength(1);
  });

  it('signals no lost lease while it never held one (etcd down at start)', async () => {
    failures = Infinity;
    const registration = new EtcdRegistration(client, '/gocron/executors/default/e1', 2);
    const lost = jest.fn();
    registration.onLeaseLost(lost);
    void registration.put({ id: 'e1' });
    await jest.advanceTimersByTimeAsync(30_000);
    expect(lost).not.toHaveBeenCalled();
    expect(warn.mock.calls.map(([m]) => m as string).filter((m) => /not renewed/.test(m))).toEqual([]);
    failures = 0;
    await jest.advanceTimersByTimeAsync(5000);
    expect(leases.at(-1)!.puts).toContain('{"id":"e1"}');
    await registration.stop();
  });
});
