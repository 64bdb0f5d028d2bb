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
  /** What it is, for the refusal: default "a dispatcher's API". */
  what?: string;
}

interface Rule {
  text: string;
  list: BlockList;
  /** Matched against addresses of this family only (BlockList would match IPv4 against an IPv6 rule, mapped). */
  family: 4 | 6;
}

/** Marks a refusal, so the runner reports it as such (and the error names the rule, not a connection problem). */
export class EgressRefused extends Error {
  readonly code = 'EGRESS_REFUSED';
}

/**
 * The eight 16-bit groups of an IPv6 address as the URL parser compresses it (hex groups, one `::`, no dotted
 * tail). IPv4-mapped (::ffff:0:0/96) and RFC 6052's NAT64 prefix (64:ff9b::/96) reach the IPv4 address in their
 * last 32 bits.
 */
function groupsOf(compressed: string): number[] {
  const [head, tail] = compressed.split('::');
  const h = head ? head.split(':').map((x) => parseInt(x, 16)) : [];
  const t = tail === undefined ? [] : tail ? tail.split(':').map((x) => parseInt(x, 16)) : [];
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

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
  const g = groupsOf(compressed);
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (mapped || nat64) {
    return { address: [g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255].join('.'), family: 4 };
  }
  return { address: compressed, family: 6 };
}

/**
 * A rule from `a.b.c.d[/n]` or an IPv6 address with an optional `/n`. An IPv6 rule stays IPv6 unless it lies wholly
 * inside an IPv4-mapped or NAT64 block (prefix ≥ 96), which is the IPv4 rule it stands for: addresses are checked
 * in canonical form, where those are IPv4.
 */
function ruleOf(cidr: string): Rule {
  const slash = cidr.indexOf('/');
  const raw = (slash === -1 ? cidr : cidr.slice(0, slash)).replace(/^\[|\]$/g, '');
  const bits = slash === -1 ? null : Number(cidr.slice(slash + 1));
  const list = new BlockList();
  const add = (address: string, type: 'ipv4' | 'ipv6', prefix: number | null) =>
    prefix === null ? list.addAddress(address, type) : list.addSubnet(address, prefix, type);
  if (isIP(raw) === 4) {
    add(raw, 'ipv4', bits);
    return { text: cidr, list, family: 4 };
  }
  if (isIP(raw) !== 6) throw new Error(`'${cidr}' is not an address or CIDR`);
  const mapped = canonicalAddress(raw);
  const unspecified = groupsOf(new URL(`http://[${raw}]/`).hostname.slice(1, -1)).every((x) => x === 0);
  if (mapped && mapped.family === 4 && !unspecified && (bits === null || bits >= 96)) {
    add(mapped.address, 'ipv4', bits === null ? null : bits - 96);
    return { text: cidr, list, family: 4 };
  }
  add(raw, 'ipv6', bits);
  return { text: cidr, list, family: 6 };
}

function matching(rules: readonly Rule[], a: CanonicalAddress): Rule | undefined {
  const type = a.family === 4 ? 'ipv4' : 'ipv6';
  return rules.find((r) => r.family === a.family && r.list.check(a.address, type));
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

/**
 * What the rules alone say of one address, before the endpoints (which change as dispatchers come and go) are
 * looked at: refused with this reason, allowed outright by http_allow, or allowed unless it is an endpoint.
 */
type AddressVerdict =
  { kind: 'refused'; reason: string } | { kind: 'allowed' } | { kind: 'endpoints'; address: CanonicalAddress };

/**
 * Addresses whose verdict is kept. A burst of HTTP tasks connects to a handful of addresses, each checked twice a
 * request (before it, and on the socket), and BlockList.check builds a SocketAddress per call: in W2 (5,000
 * requests) `refusal` took 293 ms of the executor's 3,986 ms profiled, 28 ms with the verdicts kept. Emptied when
 * full: the addresses come from URLs and DNS answers.
 */
const VERDICTS_KEPT = 1024;

const LOOPBACK_V4 = ruleOf('127.0.0.0/8');
/** "This host" (connect(2) reaches the local machine): refused whatever http_deny and http_allow say. */
const THIS_HOST = ruleOf('0.0.0.0/8');

/**
 * Where HTTP tasks may connect: `http_allow` wins, then `http_deny` and the dispatchers' API endpoints refuse;
 * everything else (loopback and private ranges included) is allowed. Checked on the address a connection is about
 * to use, after DNS resolution, for the first request and every redirect alike, so a name that resolves (or
 * re-resolves) to a denied address is refused too.
 */
export class EgressPolicy {
  private readonly allow: Rule[];
  private readonly deny: Rule[];
  /** By address as given: the rules never change, so neither does what they say of an address. */
  private readonly verdicts = new Map<string, AddressVerdict>();

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
    const verdict = this.verdictOf(address);
    if (verdict.kind === 'refused') return verdict.reason;
    if (verdict.kind === 'allowed') return null;
    const a = verdict.address;
    const endpoint = this.endpointAt(a, port);
    if (endpoint)
      return `${a.address}:${port} is ${endpoint.what ?? "a dispatcher's API"} ([executor] http_allow permits it)`;
    return null;
  }

  private verdictOf(address: string): AddressVerdict {
    let verdict = this.verdicts.get(address);
    if (verdict) return verdict;
    verdict = this.rulesSay(address);
    if (this.verdicts.size >= VERDICTS_KEPT) this.verdicts.clear();
    this.verdicts.set(address, verdict);
    return verdict;
  }

  /** "This host" first, then http_allow, then http_deny. */
  private rulesSay(address: string): AddressVerdict {
    const a = canonicalAddress(address);
    if (!a) return { kind: 'refused', reason: `'${address}' is not an IP address` };
    if (a.family === 4 && THIS_HOST.list.check(a.address, 'ipv4')) {
      return { kind: 'refused', reason: `${a.address} is "this host" (0.0.0.0/8 or ::), which tasks may never reach` };
    }
    if (matching(this.allow, a)) return { kind: 'allowed' };
    const denied = matching(this.deny, a);
    if (denied) return { kind: 'refused', reason: `${a.address} is in [executor] http_deny (${denied.text})` };
    return { kind: 'endpoints', address: a };
  }

  /**
   * A `lookup` for http.request: resolves as dns.lookup does, then refuses the connection when any address the
   * name resolves to is refused (a name answering with an allowed and a denied address is a rebinding attempt).
   * `shownAs` names the host in the refusal instead of the host name (where the name is not to be shown).
   */
  lookupFor(port: number, shownAs?: string) {
    return (
      hostname: string,
      options: LookupOneOptions | LookupAllOptions,
      callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
    ): void => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, []);
        for (const { address } of addresses) {
          const why = this.refusal(address, port);
          if (why) return callback(new EgressRefused(`egress refused: ${shownAs ?? hostname} resolves to ${why}`), []);
        }
        if (options.all) return callback(null, addresses);
        const first = addresses[0];
        if (!first) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), []);
        callback(null, first.address, first.family);
      });
    };
  }

  private endpointAt(a: CanonicalAddress, port: number): Endpoint | null {
    let local: Set<string> | null = null;
    for (const e of this.endpoints()) {
      if (e.port !== port) continue;
      const host = canonicalAddress(e.host);
      if (host && host.address === a.address) return e;
      if (host?.address === '0.0.0.0') {
        local ??= localAddresses();
        if (local.has(a.address) || (a.family === 4 && LOOPBACK_V4.list.check(a.address, 'ipv4'))) return e;
        if (a.address === '::1') return e;
      }
      // A dispatcher registered by name: localhost is the one name it is worth resolving here.
      if (!host && e.host.toLowerCase() === 'localhost') {
        if (a.address === '::1' || (a.family === 4 && LOOPBACK_V4.list.check(a.address, 'ipv4'))) return e;
      }
    }
    return null;
  }
}
