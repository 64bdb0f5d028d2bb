import { lookup as dnsLookup, LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** An address in the one form rules are matched against. */
export interface CanonicalAddress {
  address: string;
  family: 4 | 6;
}

/** A host:port an HTTP task may not reach (a dispatcher's API); host `0.0.0.0` or `::` means every local address. */
export interface Endpoint {
  host: string;
  port: number;
}

interface Rule {
  text: string;
  list: BlockList;
}

/** Marks a refusal, so the runner reports it as such (and the error names the rule, not a connection problem). */
export class EgressRefused extends Error {
  readonly code = 'EGRESS_REFUSED';
}

const IPV4_MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;
/** RFC 6052's well-known NAT64 prefix: such an address reaches the IPv4 address in its last 32 bits. */
const NAT64 = /^64:ff9b::([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * The form an address is checked in. IPv4 arrives canonical (WHATWG URL parsing already turned `0x7f000001`,
 * `127.1` and `017700000001` into `127.0.0.1`, and DNS answers are dotted quads); IPv6 is compressed and
 * lower-cased by the URL parser, then an address that reaches an IPv4 one (IPv4-mapped, NAT64) is checked as that
 * IPv4 address, and `::` as `0.0.0.0`: both mean "this host" to connect(2). Null for anything that is not an address.
 */
export function canonicalAddress(raw: string): CanonicalAddress | null {
  let text = raw.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  const family = isIP(text);
  if (family === 4) return { address: text, family: 4 };
  if (family !== 6) return null;
  let compressed: string;
  try {
    compressed = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  if (compressed === '::') return { address: '0.0.0.0', family: 4 };
  const embedded = IPV4_MAPPED.exec(compressed) ?? NAT64.exec(compressed);
  if (embedded) {
    const hi = parseInt(embedded[1], 16);
    const lo = parseInt(embedded[2], 16);
    return { address: [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.'), family: 4 };
  }
  return { address: compressed, family: 6 };
}

function ruleOf(cidr: string): Rule {
  const slash = cidr.indexOf('/');
  const base = canonicalAddress(slash === -1 ? cidr : cidr.slice(0, slash));
  if (!base) throw new Error(`'${cidr}' is not an address or CIDR`);
  const list = new BlockList();
  const type = base.family === 4 ? 'ipv4' : 'ipv6';
  if (slash === -1) list.addAddress(base.address, type);
  else list.addSubnet(base.address, Number(cidr.slice(slash + 1)), type);
  return { text: cidr, list };
}

function matching(rules: readonly Rule[], a: CanonicalAddress): Rule | undefined {
  const type = a.family === 4 ? 'ipv4' : 'ipv6';
  return rules.find((r) => r.list.check(a.address, type));
}

/** This machine's own addresses: where a dispatcher listening on 0.0.0.0 or :: answers. */
function localAddresses(): Set<string> {
  const out = new Set<string>(['0.0.0.0']);
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      const a = canonicalAddress(i.address);
      if (a) out.add(a.address);
    }
  }
  return out;
}

const LOOPBACK_V4 = ruleOf('127.0.0.0/8');

/**
 * Where HTTP tasks may connect: `http_allow` wins, then `http_deny` and the dispatchers' API endpoints refuse;
 * everything else (loopback and private ranges included) is allowed. Checked on the address a connection is about
 * to use, after DNS resolution, for the first request and every redirect alike, so a name that resolves (or
 * re-resolves) to a denied address is refused too.
 */
export class EgressPolicy {
  private readonly allow: Rule[];
  private readonly deny: Rule[];

  constructor(
    allow: readonly string[],
    deny: readonly string[],
    /** Read at every check: the list changes as dispatchers come and go. */
    private readonly endpoints: () => readonly Endpoint[] = () => [],
  ) {
    this.allow = allow.map(ruleOf);
    this.deny = deny.map(ruleOf);
  }

  /** Why connecting to `address:port` is refused, or null when it is allowed. */
  refusal(address: string, port: number): string | null {
    const a = canonicalAddress(address);
    if (!a) return `'${address}' is not an IP address`;
    if (matching(this.allow, a)) return null;
    const denied = matching(this.deny, a);
    if (denied) return `${a.address} is in [executor] http_deny (${denied.text})`;
    if (this.isDispatcher(a, port))
      return `${a.address}:${port} is a dispatcher's API ([executor] http_allow permits it)`;
    return null;
  }

  /**
   * A `lookup` for http.request: resolves as dns.lookup does, then refuses the connection when any address the
   * name resolves to is refused (a name answering with an allowed and a denied address is a rebinding attempt).
   */
  lookupFor(port: number) {
    return (
      hostname: string,
      options: LookupOneOptions | LookupAllOptions,
      callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
    ): void => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, []);
        for (const { address } of addresses) {
          const why = this.refusal(address, port);
          if (why) return callback(new EgressRefused(`egress refused: ${hostname} resolves to ${why}`), []);
        }
        if (options.all) return callback(null, addresses);
        const first = addresses[0];
        if (!first) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), []);
        callback(null, first.address, first.family);
      });
    };
  }

  private isDispatcher(a: CanonicalAddress, port: number): boolean {
    let local: Set<string> | null = null;
    for (const e of this.endpoints()) {
      if (e.port !== port) continue;
      const host = canonicalAddress(e.host);
      if (host && host.address === a.address) return true;
      if (host?.address === '0.0.0.0') {
        local ??= localAddresses();
        if (local.has(a.address) || (a.family === 4 && LOOPBACK_V4.list.check(a.address, 'ipv4'))) return true;
        if (a.address === '::1') return true;
      }
      // A dispatcher registered by name: localhost is the one name it is worth resolving here.
      if (!host && e.host.toLowerCase() === 'localhost') {
        if (a.address === '::1' || (a.family === 4 && LOOPBACK_V4.list.check(a.address, 'ipv4'))) return true;
      }
    }
    return false;
  }
}
