import type { AppConfig } from '@app/config';
import { NoopRegistration, Registration } from '@app/discovery';
import { ActiveRuns } from './active-runs';
import type { LedgerWatch } from './ledger-watch.service';
import { Presence } from './presence.service';

const config = {
  executor: { id: 'e1', group: 'g', capacity: 2, advertise: '127.0.0.1:1', drainTimeoutSeconds: 0 },
} as unknown as AppConfig;
const ledger = { schemaReady: () => Promise.resolve(true) } as unknown as LedgerWatch;

describe('Presence.inDiscovery', () => {
  it('static discovery: listed once registered', async () => {
    const presence = new Presence(config, new NoopRegistration(), new ActiveRuns(), ledger);
    expect(presence.inDiscovery).toBe(false);
    await presence.register();
    expect(presence.inDiscovery).toBe(true);
    presence.onApplicationShutdown();
  });

  it('etcd: not listed while the lease is lost, listed again once registered again; told each change', async () => {
    let lost = () => undefined as void;
    let registered = () => undefined as void;
    const registration: Registration = {
      put: () => Promise.resolve(),
      stop: () => Promise.resolve(),
      onLeaseLost: (l) => (lost = l),
      onRegistered: (l) => (registered = l),
    };
    const presence = new Presence(config, registration, new ActiveRuns(), ledger);
    const seen: boolean[] = [];
    presence.onDiscoveryChange(() => seen.push(presence.inDiscovery));
    await presence.register();
    lost();
    registered();
    expect(seen).toEqual([true, false, true]);
    await presence.beforeApplicationShutdown('SIGTERM'); // draining: not listed for the broker any more
    expect(presence.inDiscovery).toBe(false);
    expect(seen).toEqual([true, false, true, false]);
    presence.onApplicationShutdown();
  });
});
