import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Endpoint } from './egress-policy';

/**
 * Endpoints an egress check refuses (the dispatchers' APIs, etcd's), with the addresses their host names resolve
 * to: the check runs on addresses. A name is resolved the first time it is seen, in the background (until it
 * answers, its endpoint is matched by name alone, as EgressPolicy does for `localhost`); a name that does not
 * resolve is tried again when next seen.
 */
export class ResolvedEndpoints {
  /** Resolved addresses per host name. */
  private readonly resolved = new Map<string, string[]>();

  constructor(private readonly unresolved: (host: string, error: Error) => void = () => undefined) {}

  /** `endpoints`, each followed by its host name's addresses as endpoints of the same port. */
  expand(endpoints: readonly Endpoint[]): Endpoint[] {
    const out: Endpoint[] = [];
    for (const e of endpoints) {
      out.push(e);
      const host = e.host.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) !== 0) continue;
      const addresses = this.resolved.get(host);
      if (addresses) for (const a of addresses) out.push({ host: a, port: e.port, what: e.what });
      else void this.resolve(host);
    }
    return out;
  }

  async resolve(host: string): Promise<void> {
    if (isIP(host) !== 0 || this.resolved.has(host)) return;
    this.resolved.set(host, []);
    try {
      const answers = await lookup(host, { all: true });
      this.resolved.set(
        host,
        answers.map((a) => a.address),
      );
    } catch (e) {
      this.resolved.delete(host);
      this.unresolved(host, e as Error);
    }
  }
}

/** etcd's client URLs as endpoints (its JSON API needs no login by default: nothing a task should reach). */
export function etcdEndpoints(hosts: readonly string[]): Endpoint[] {
  return hosts.map((h) => {
    const url = new URL(h);
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 2379);
    return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, what: "etcd's API ([etcd] hosts)" };
  });
}

/** `host:port` (an advertised address, IPv6 in brackets) as an endpoint, or null without a port. */
export function endpointOf(address: string, what?: string): Endpoint | null {
  const m = /:(\d{1,5})$/.exec(address);
  if (!m) return null;
  return { host: address.slice(0, m.index), port: Number(m[1]), ...(what ? { what } : {}) };
}
