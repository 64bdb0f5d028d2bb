import { canonicalAddress, EgressPolicy } from './egress-policy';

const DEFAULT_DENY = ['0.0.0.0/8', '169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254/128'];

/** How the URL parser hands a task's host to the runner. */
const hostOf = (url: string) => new URL(url).hostname;

describe('canonicalAddress', () => {
  it.each([
    // What the URL parser makes of IPv4 in other notations, then the canonical form.
    [hostOf('http://0x7f000001/'), '127.0.0.1'],
    [hostOf('http://127.1/'), '127.0.0.1'],
    [hostOf('http://017700000001/'), '127.0.0.1'],
    [hostOf('http://2852039166/'), '169.254.169.254'],
    [hostOf('http://0251.0376.0251.0376/'), '169.254.169.254'],
    // IPv6 forms that reach an IPv4 address, and "this host".
    ['[::ffff:169.254.169.254]', '169.254.169.254'],
    [hostOf('http://[::ffff:a9fe:a9fe]/'), '169.254.169.254'],
    ['::FFFF:7F00:1', '127.0.0.1'],
    ['64:ff9b::a9fe:a9fe', '169.254.169.254'],
    ['::', '0.0.0.0'],
    ['[0:0:0:0:0:0:0:0]', '0.0.0.0'],
    ['FE80::1%eth0', 'fe80::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
  ])('%s → %s', (raw, expected) => {
    expect(canonicalAddress(raw)?.address).toBe(expected);
  });

  it('is null for what is not an address', () => {
    expect(canonicalAddress('example.com')).toBeNull();
    expect(canonicalAddress('127.1')).toBeNull(); // only the URL parser reads this, and it does first
    expect(canonicalAddress('')).toBeNull();
  });
});

describe('EgressPolicy', () => {
  const policy = new EgressPolicy([], DEFAULT_DENY);

  it('refuses the default deny list in every spelling, naming the rule', () => {
    expect(policy.refusal('169.254.169.254', 80)).toBe('169.254.169.254 is in [executor] http_deny (169.254.0.0/16)');
    expect(policy.refusal('::ffff:a9fe:a9fe', 80)).toBe('169.254.169.254 is in [executor] http_deny (169.254.0.0/16)');
    expect(policy.refusal('0.0.0.0', 8080)).toContain('"this host"');
    expect(policy.refusal('::', 8080)).toContain('"this host"');
    expect(policy.refusal('fe80::1', 80)).toContain('(fe80::/10)');
    expect(policy.refusal('fd00:ec2::254', 80)).toContain('(fd00:ec2::254/128)');
  });

  it('refuses "this host" whatever http_deny and http_allow say (a custom deny list replaces the default)', () => {
    const custom = new EgressPolicy(['0.0.0.0/0'], ['10.0.0.0/8']);
    expect(custom.refusal('0.0.0.0', 80)).toBe('0.0.0.0 is "this host" (0.0.0.0/8 or ::), which tasks may never reach');
    expect(custom.refusal('::', 80)).toContain('"this host"');
    expect(custom.refusal('0.1.2.3', 80)).toContain('"this host"');
  });

  it('keeps IPv6 rules IPv6, and reads IPv4-mapped and NAT64 rules of /96 or longer as the IPv4 rules they are', () => {
    const v6 = new EgressPolicy([], ['::/0']);
    expect(v6.refusal('8.8.8.8', 80)).toBeNull();
    expect(v6.refusal('2001:db8::1', 80)).toContain('(::/0)');
    const mapped = new EgressPolicy([], ['::ffff:169.254.0.0/112', '64:ff9b::/96', '::/128']);
    expect(mapped.refusal('169.254.1.2', 80)).toContain('(::ffff:169.254.0.0/112)');
    expect(mapped.refusal('64:ff9b::808:808', 80)).toContain('(64:ff9b::/96)');
    expect(mapped.refusal('1.1.1.1', 80)).toContain('(64:ff9b::/96)'); // NAT64 /96 covers every IPv4 address
  });

  it('names what an endpoint is (etcd as well as dispatchers)', () => {
    const p = new EgressPolicy([], [], () => [{ host: '127.0.0.1', port: 2379, what: "etcd's API ([etcd] hosts)" }]);
    expect(p.refusal('127.0.0.1', 2379)).toBe(
      "127.0.0.1:2379 is etcd's API ([etcd] hosts) ([executor] http_allow permits it)",
    );
  });

  it('allows loopback and private ranges unless denied', () => {
    for (const a of ['127.0.0.1', '::1', '10.1.2.3', '192.168.1.1', '172.16.0.1', 'fd12::1', '93.184.216.34']) {
      expect(policy.refusal(a, 80)).toBeNull();
    }
  });

  it('lets http_allow win over http_deny and over a dispatcher endpoint', () => {
    const p = new EgressPolicy(['169.254.169.254', '127.0.0.0/8'], DEFAULT_DENY, () => [
      { host: '127.0.0.1', port: 8080 },
    ]);
    expect(p.refusal('169.254.169.254', 80)).toBeNull();
    expect(p.refusal('169.254.1.1', 80)).toContain('http_deny');
    expect(p.refusal('127.0.0.1', 8080)).toBeNull();
  });

  it('answers an address checked again as the first time, also once more addresses than it keeps were seen', () => {
    const p = new EgressPolicy(['10.0.0.7'], ['10.0.0.0/8']);
    const first = ['10.0.0.7', '10.0.0.8', '0.0.0.0', 'not-an-address', '192.168.1.1'].map((a) => p.refusal(a, 80));
    for (let i = 0; i < 3000; i++) p.refusal(`172.16.${i >> 8}.${i & 255}`, 80);
    const again = ['10.0.0.7', '10.0.0.8', '0.0.0.0', 'not-an-address', '192.168.1.1'].map((a) => p.refusal(a, 80));
    expect(again).toEqual(first);
    expect(first[0]).toBeNull();
    expect(first[1]).toContain('http_deny (10.0.0.0/8)');
    expect(first[2]).toContain('this host');
    expect(first[3]).toContain('not an IP address');
    expect(first[4]).toBeNull();
  });

  it("refuses a dispatcher's API address and port, and only that port", () => {
    let endpoints = [{ host: '127.0.0.1', port: 8080 }];
    const p = new EgressPolicy([], DEFAULT_DENY, () => endpoints);
    expect(p.refusal('127.0.0.1', 8080)).toBe(
      "127.0.0.1:8080 is a dispatcher's API ([executor] http_allow permits it)",
    );
    expect(p.refusal('::ffff:127.0.0.1', 8080)).toContain("dispatcher's API");
    expect(p.refusal('127.0.0.1', 8081)).toBeNull();
    endpoints = [{ host: '0.0.0.0', port: 9090 }];
    expect(p.refusal('127.0.0.1', 8080)).toBeNull();
    expect(p.refusal('127.0.0.5', 9090)).toContain("dispatcher's API");
    expect(p.refusal('::1', 9090)).toContain("dispatcher's API");
    endpoints = [{ host: 'localhost', port: 7070 }];
    expect(p.refusal('127.0.0.1', 7070)).toContain("dispatcher's API");
  });

  it('refuses a name that resolves to a denied address, and passes allowed answers through in both lookup forms', async () => {
    const lookup = policy.lookupFor(80);
    const one = await new Promise<{ err: Error | null; address: unknown }>((resolve) =>
      lookup('localhost', { family: 4 }, (err, address) => resolve({ err, address })),
    );
    expect(one.err).toBeNull();
    expect(one.address).toBe('127.0.0.1');
    const all = await new Promise<{ err: Error | null; address: unknown }>((resolve) =>
      lookup('localhost', { all: true, family: 4 }, (err, address) => resolve({ err, address })),
    );
    expect(all.address).toEqual([{ address: '127.0.0.1', family: 4 }]);

    const denyLoopback = new EgressPolicy([], ['127.0.0.0/8']).lookupFor(80);
    const refused = await new Promise<Error | null>((resolve) =>
      denyLoopback('localhost', { family: 4 }, (err) => resolve(err)),
    );
    expect(refused?.message).toBe(
      'egress refused: localhost resolves to 127.0.0.1 is in [executor] http_deny (127.0.0.0/8)',
    );
  });
});
