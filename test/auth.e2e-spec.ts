// The API's authentication attacked from outside (issue 12), against real processes: a dispatcher and an executor on
// SQLite for the route table, tokens, roles, CSRF, content types, Host, audit and headers; a dispatcher of its own
// for the login brute force (its failure counters are per address too); two dispatchers started at once on one empty
// MariaDB database with no admin token configured for the first-start bootstrap. /work/notes/auth-api.md is the
// contract every expectation here comes from.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { IncomingHttpHeaders, request } from 'node:http';
import { join } from 'node:path';
import { Api, Job, sqliteEnv, startDispatcher, startExecutor, TEST_ADMIN_TOKEN } from './support/gocron';
import { httpJson, stopAllApps } from './support/processes';
import { createMysqlDatabase, freePort, TestDatabase, tmpDir } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *'; // jobs that only run when triggered

type Role = 'viewer' | 'operator' | 'admin';

interface User {
  id: number;
  username: string;
  role: Role;
  hasPassword: boolean;
  disabled: boolean;
}

interface Token {
  id: number;
  name: string;
  userId: number;
  username: string;
  role: Role;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** POST /api/tokens' answer: the token and, this once, its secret. */
interface NewToken extends Token {
  token: string;
}

interface AuditEntry {
  id: number;
  at: string;
  actor: string | null;
  action: string;
  targetType: string | null;
  targetId: number | null;
  jobId: number | null;
  address: string;
  detail: string | null;
}

interface AuditPage {
  items: AuditEntry[];
  total: number;
}

interface OpenApi {
  paths: Record<string, Record<string, unknown>>;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];

/** Routes anyone may call (the contract's public rows; /metrics while [auth] public_metrics is true, the default). */
const PUBLIC_ROUTES = ['GET /api/health', 'POST /api/auth/login', 'GET /metrics'];
/** Writes any signed-in user may make on what is its own (a viewer included). */
const ANY_SIGNED_IN_WRITES = ['POST /api/auth/logout', 'POST /api/tokens', 'DELETE /api/tokens/{id}'];
/** Writes an operator may make. */
const OPERATOR_WRITES = [
  'POST /api/jobs/{id}/trigger',
  'POST /api/jobs/{id}/pause',
  'POST /api/jobs/{id}/resume',
  'POST /api/runs/{id}/cancel',
];

/** `gct_` + 43 base64url characters that no dispatcher issued. */
function forgedToken(): string {
  return `gct_${randomBytes(32).toString('base64url')}`;
}

/** Every method × path the running app documents, as `METHOD /path` with OpenAPI's `{param}` placeholders. */
async function documentedRoutes(api: Api): Promise<string[]> {
  const doc = (await api.call<OpenApi>('GET', '/api/docs-json', undefined, 200)).body;
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => HTTP_METHODS.includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

/** A route's path with each `/<resource>/{param}` replaced by the id `ids` names for the resource (else 1). */
function concrete(path: string, ids: Record<string, number>): string {
  return path.replace(/\/([A-Za-z-]+)\/\{[^}]+\}/g, (_, resource: string) => `/${resource}/${ids[resource] ?? 1}`);
}

/**
 * One request per route as `api`'s token holder, a JSON `{}` body on writes (so that only the credentials decide),
 * each answered as `METHOD /path → status`; a route that does not answer within 5 s (an event stream left open)
 * says so instead.
 */
async function statusPerRoute(api: Api, routes: string[], ids: Record<string, number>): Promise<string[]> {
  const out: string[] = [];
  for (const route of routes) {
    const [method, path] = route.split(' ');
    const body = WRITE_METHODS.includes(method) && method !== 'DELETE' ? {} : undefined;
    const answer = await httpJson(method, `${api.base}${concrete(path, ids)}`, body, {
      headers: api.authHeaders(),
      timeoutMs: 5000,
    }).then(
      (res) => String(res.status),
      (err: unknown) => `no answer (${err instanceof Error ? err.message : String(err)})`,
    );
    out.push(`${route} → ${answer}`);
  }
  return out;
}

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A request with exactly these headers (Host included; no Content-Type unless given), over node:http. */
function rawRequest(url: string, method: string, headers: Record<string, string>, body?: string): Promise<RawAnswer> {
  const payload = body === undefined ? undefined : Buffer.from(body);
  const all = payload ? { ...headers, 'content-length': String(payload.length) } : headers;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: all, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url}: no response within 10 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

interface Cookie {
  value: string;
  /** Attribute names, lower case, with their values ('' for flags): httponly, samesite, path, … */
  attributes: Record<string, string>;
}

/** The cookies a response sets, by name. */
function setCookies(headers: IncomingHttpHeaders): Record<string, Cookie> {
  const out: Record<string, Cookie> = {};
  for (const line of headers['set-cookie'] ?? []) {
    const [pair, ...attrs] = line.split(';').map((p) => p.trim());
    const eq = pair.indexOf('=');
    const attributes: Record<string, string> = {};
    for (const a of attrs) {
      const i = a.indexOf('=');
      attributes[(i < 0 ? a : a.slice(0, i)).toLowerCase()] = i < 0 ? '' : a.slice(i + 1);
    }
    out[pair.slice(0, eq)] = { value: pair.slice(eq + 1), attributes };
  }
  return out;
}

async function createUser(admin: Api, username: string, role: Role, password?: string): Promise<User> {
  return (await admin.call<User>('POST', '/api/users', { username, role, ...(password ? { password } : {}) }, 201))
    .body;
}

async function createToken(api: Api, body: Record<string, unknown>): Promise<NewToken> {
  return (await api.call<NewToken>('POST', '/api/tokens', body, 201)).body;
}

describe('auth on a dispatcher (sqlite)', () => {
  let admin: Api;
  let anonymous: Api;
  let viewer: Api;
  let operator: Api;
  let viewerUser: User;
  let operatorUser: User;
  /** What the route sweeps substitute for `{id}`: their own job, run, user and token, so nothing else is touched. */
  const sweepIds: Record<string, number> = {};
  const OPERATOR_PASSWORD = 'operator-password-1';

  beforeAll(async () => {
    const env = await sqliteEnv('auth');
    const executorPort = await freePort();
    const dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'dispatcher-auth',
    );
    await startExecutor(env, 'executor-auth', executorPort);
    admin = new Api(dispatcher.base);
    anonymous = admin.withToken(null);
    viewerUser = await createUser(admin, 'viewer-1', 'viewer', 'viewer-password-1');
    operatorUser = await createUser(admin, 'operator-1', 'operator', OPERATOR_PASSWORD);
    viewer = admin.withToken((await createToken(admin, { name: 'viewer-1', userId: viewerUser.id })).token);
    operator = admin.withToken((await createToken(admin, { name: 'operator-1', userId: operatorUser.id })).token);

    const job = await admin.createJob({ name: 'sweep', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    sweepIds.jobs = job.id;
    sweepIds.runs = await admin.trigger(job.id);
    sweepIds.users = (await createUser(admin, 'sweep-target', 'viewer')).id;
    sweepIds.tokens = (await createToken(admin, { name: 'sweep-target', userId: sweepIds.users })).id;
  });

  afterAll(() => stopAllApps());

  it('answers every documented route but the public ones with 401 without credentials, and writes with 403 below the role', async () => {
    const routes = await documentedRoutes(anonymous);
    // Not vacuous: the route table is there, users and tokens included.
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /api/jobs',
        'PATCH /api/jobs/{id}',
        'POST /api/jobs/{id}/trigger',
        'POST /api/runs/{id}/cancel',
        'GET /api/events',
        'GET /api/users',
        'POST /api/tokens',
        'GET /api/audit',
        'POST /api/auth/login',
      ]),
    );
    expect(routes.length).toBeGreaterThanOrEqual(25);

    const guarded = routes.filter((r) => !PUBLIC_ROUTES.includes(r));
    const writes = guarded.filter((r) => WRITE_METHODS.includes(r.split(' ')[0]));
    const beyondViewer = writes.filter((r) => !ANY_SIGNED_IN_WRITES.includes(r));
    const beyondOperator = beyondViewer.filter((r) => !OPERATOR_WRITES.includes(r));
    // All three sweeps in one comparison, so that a failure lists every route that answers otherwise.
    expect({
      unauthenticated: await statusPerRoute(anonymous, guarded, sweepIds),
      viewer: await statusPerRoute(viewer, beyondViewer, sweepIds),
      operator: await statusPerRoute(operator, beyondOperator, sweepIds),
    }).toEqual({
      unauthenticated: guarded.map((r) => `${r} → 401`),
      viewer: beyondViewer.map((r) => `${r} → 403`),
      operator: beyondOperator.map((r) => `${r} → 403`),
    });

    // The sweeps changed nothing: the job is there, unpaused, with its one run.
    expect((await admin.call<Job>('GET', `/api/jobs/${sweepIds.jobs}`, undefined, 200)).body.enabled).toBe(true);
    expect((await admin.runs(sweepIds.jobs)).map((r) => r.id)).toEqual([sweepIds.runs]);
    // The public routes stay public.
    for (const route of PUBLIC_ROUTES.filter((r) => r.startsWith('GET '))) {
      expect({ route, status: (await anonymous.call('GET', route.slice(4))).status }).toEqual({ route, status: 200 });
    }
  });

  it('answers a forged, an expired and a revoked token with 401 and WWW-Authenticate: Bearer', async () => {
    const expect401 = async (api: Api, what: string) => {
      const res = await api.call<{ statusCode: number; error: string }>('GET', '/api/jobs');
      expect({ what, status: res.status, body: res.body }).toEqual({
        what,
        status: 401,
        body: expect.objectContaining({ statusCode: 401, error: 'Unauthorized' }),
      });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
    };
    await expect401(admin.withToken(forgedToken()), 'forged');
    // The configured admin token with its last character changed.
    const flipped = TEST_ADMIN_TOKEN.slice(0, -1) + (TEST_ADMIN_TOKEN.endsWith('A') ? 'B' : 'A');
    await expect401(admin.withToken(flipped), 'admin token, one character off');
    await expect401(admin.withToken('not-a-token'), 'garbage');

    const short = await createToken(admin, {
      name: 'short-lived',
      expiresAt: new Date(Date.now() + 3000).toISOString(),
    });
    const shortApi = admin.withToken(short.token);
    await shortApi.call('GET', '/api/jobs', undefined, 200);
    await waitFor(async () => (await shortApi.call('GET', '/api/jobs')).status === 401, {
      timeoutMs: 15_000,
      what: 'the short-lived token expires',
      intervalMs: 250,
    });
    // Refused only once its time had come.
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(short.expiresAt!));
    await expect401(shortApi, 'expired');

    const revoked = await createToken(admin, { name: 'revoked' });
    const revokedApi = admin.withToken(revoked.token);
    await revokedApi.call('GET', '/api/jobs', undefined, 200);
    await admin.call('DELETE', `/api/tokens/${revoked.id}`, undefined, 204);
    await expect401(revokedApi, 'revoked');
  });

  it('refuses a cross-site text/plain POST with 415 even with a valid token, creating no run', async () => {
    const job = await admin.createJob({ name: 'cross-site', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    const url = `${admin.base}/api/jobs/${job.id}/trigger`;
    // The content types a page of another site may send without a CORS preflight, and a body without one.
    const attempts: [string, Record<string, string>, string][] = [
      ['text/plain', { 'content-type': 'text/plain' }, '{"x":1}'],
      ['form', { 'content-type': 'application/x-www-form-urlencoded' }, 'x=1'],
      ['multipart', { 'content-type': 'multipart/form-data; boundary=b' }, '--b\r\n\r\nx\r\n--b--\r\n'],
      ['no content type', {}, '{"x":1}'],
    ];
    for (const [what, headers, body] of attempts) {
      const res = await rawRequest(url, 'POST', { ...admin.authHeaders(), ...headers }, body);
      expect({ what, status: res.status }).toEqual({ what, status: 415 });
    }
    expect(await admin.runs(job.id)).toEqual([]);
    // The same request as JSON goes through.
    await admin.call('POST', `/api/jobs/${job.id}/trigger`, {}, 202);
    expect(await admin.runs(job.id)).toHaveLength(1);
  });

  it('answers a foreign Host header with 421, even with a valid token', async () => {
    const url = `${admin.base}/api/jobs`;
    const foreign = await rawRequest(url, 'GET', { ...admin.authHeaders(), host: 'evil.example' });
    expect(foreign.status).toBe(421);
    const withPort = await rawRequest(url, 'GET', {
      ...admin.authHeaders(),
      host: `evil.example:${new URL(url).port}`,
    });
    expect(withPort.status).toBe(421);
    // localhost is allowed by default.
    const local = await rawRequest(url, 'GET', { ...admin.authHeaders(), host: `localhost:${new URL(url).port}` });
    expect(local.status).toBe(200);
  });

  it('asks a session for X-CSRF-Token on writes: without it 403 and nothing changes, with it 200', async () => {
    const job = await admin.createJob({ name: 'csrf', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    const login = await anonymous.call<{ user: User; expiresAt: string; csrfToken: string }>(
      'POST',
      '/api/auth/login',
      { username: 'operator-1', password: OPERATOR_PASSWORD },
      200,
    );
    expect(login.body.user).toMatchObject({ id: operatorUser.id, username: 'operator-1', role: 'operator' });
    expect(typeof login.body.csrfToken).toBe('string');
    expect(Date.parse(login.body.expiresAt)).toBeGreaterThan(Date.now());
    const cookies = setCookies(login.headers);
    expect(cookies.gocron_session?.attributes).toMatchObject({ httponly: '', path: '/' });
    expect(cookies.gocron_session.attributes.samesite.toLowerCase()).toBe('strict');
    expect(cookies.gocron_csrf?.attributes).toMatchObject({ path: '/' });
    expect(cookies.gocron_csrf.attributes).not.toHaveProperty('httponly');
    expect(cookies.gocron_csrf.attributes.samesite.toLowerCase()).toBe('strict');
    // What a browser sends back: both cookies.
    const cookie = {
      cookie: `gocron_session=${cookies.gocron_session.value}; gocron_csrf=${cookies.gocron_csrf.value}`,
    };
    expect((await anonymous.call('GET', '/api/auth/me', undefined, 200, cookie)).body).toMatchObject({
      id: operatorUser.id,
      role: 'operator',
      via: 'session',
      tokenId: null,
    });

    const pause = `/api/jobs/${job.id}/pause`;
    const missing = await anonymous.call<{ message: string }>('POST', pause, undefined, 403, cookie);
    expect(missing.body.message).toMatch(/CSRF token missing or wrong/);
    const wrong = await anonymous.call('POST', pause, undefined, undefined, { ...cookie, 'x-csrf-token': 'nope' });
    expect(wrong.status).toBe(403);
    expect((await admin.call<Job>('GET', `/api/jobs/${job.id}`, undefined, 200)).body.enabled).toBe(true);

    const csrf = { ...cookie, 'x-csrf-token': cookies.gocron_csrf.value };
    expect((await anonymous.call<Job>('POST', pause, undefined, 200, csrf)).body.enabled).toBe(false);
    // Logout needs the header too, then the session is gone.
    await anonymous.call('POST', '/api/auth/logout', undefined, 403, cookie);
    await anonymous.call('POST', '/api/auth/logout', undefined, 204, csrf);
    await anonymous.call('GET', '/api/auth/me', undefined, 401, cookie);
  });

  it('gives each role what the route table says, and no more', async () => {
    const job = await admin.createJob({ name: 'roles', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    await viewer.call('GET', '/api/jobs', undefined, 200);
    await viewer.call('GET', `/api/jobs/${job.id}`, undefined, 200);
    await viewer.call('POST', `/api/jobs/${job.id}/trigger`, undefined, 403);
    const runId = (await operator.call<{ runId: number }>('POST', `/api/jobs/${job.id}/trigger`, undefined, 202)).body
      .runId;
    expect((await admin.run(runId)).jobId).toBe(job.id);
    await operator.call(
      'POST',
      '/api/jobs',
      { name: 'by-operator', cron: ONCE_A_YEAR, type: 'shell', command: 'true' },
      403,
    );
    for (const [who, api] of [
      ['viewer', viewer],
      ['operator', operator],
    ] as const) {
      for (const path of ['/api/users', '/api/audit']) {
        expect({ who, path, status: (await api.call('GET', path)).status }).toEqual({ who, path, status: 403 });
      }
    }
    expect((await operator.call('GET', '/api/auth/me', undefined, 200)).body).toMatchObject({
      username: 'operator-1',
      role: 'operator',
      via: 'token',
    });

    // A non-admin lists its own tokens only; the admin lists everyone's.
    const own = await createToken(operator, { name: 'operator-own' });
    expect(own).toMatchObject({ userId: operatorUser.id, role: 'operator' });
    const listed = (await operator.call<Token[]>('GET', '/api/tokens', undefined, 200)).body;
    expect(listed.map((t) => t.id)).toContain(own.id);
    expect(listed.filter((t) => t.userId !== operatorUser.id)).toEqual([]);
    const all = (await admin.call<Token[]>('GET', '/api/tokens', undefined, 200)).body;
    expect(all.map((t) => t.userId)).toEqual(expect.arrayContaining([viewerUser.id, operatorUser.id]));
    // Nor can a non-admin give itself more than its role, or revoke another user's token.
    const escalate = await operator.call('POST', '/api/tokens', { name: 'escalate', role: 'admin' });
    expect(escalate.status).toBeGreaterThanOrEqual(400);
    expect(escalate.status).toBeLessThan(500);
    const viewerTokenId = all.find((t) => t.userId === viewerUser.id)!.id;
    await operator.call('DELETE', `/api/tokens/${viewerTokenId}`, undefined, 404);
    await viewer.call('GET', '/api/jobs', undefined, 200);
  });

  it('audits job changes with actor and address, and a failed login as auth.login_failed', async () => {
    const job = await admin.createJob({ name: 'audited', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    await admin.trigger(job.id);
    await admin.call('POST', `/api/jobs/${job.id}/pause`, undefined, 200);
    const page = (await admin.call<AuditPage>('GET', `/api/audit?jobId=${job.id}`, undefined, 200)).body;
    expect(page.items.map((e) => e.action)).toEqual(['job.paused', 'job.triggered', 'job.created']);
    for (const entry of page.items) {
      expect(entry).toMatchObject({ actor: 'admin', jobId: job.id, address: expect.stringMatching(/127\.0\.0\.1$/) });
    }
    expect(page.items.find((e) => e.action === 'job.created')).toMatchObject({ targetType: 'job', targetId: job.id });

    const since = Date.now() - 1000;
    const password = `wrong-${randomBytes(6).toString('hex')}`;
    await anonymous.call('POST', '/api/auth/login', { username: 'operator-1', password }, 401);
    const failed = (await admin.call<AuditPage>('GET', '/api/audit?action=auth.login_failed', undefined, 200)).body;
    const entry = failed.items.find((e) => Date.parse(e.at) >= since);
    expect(entry).toMatchObject({ action: 'auth.login_failed', address: expect.stringMatching(/127\.0\.0\.1$/) });
    // The password tried is not kept.
    expect(JSON.stringify(failed)).not.toContain(password);
  });

  it('sends helmet headers and no X-Powered-By, on answers and refusals alike', async () => {
    for (const [what, api, path] of [
      ['public', anonymous, '/api/health'],
      ['signed in', admin, '/api/jobs'],
      ['refused', anonymous, '/api/jobs'],
    ] as const) {
      const { headers } = await api.call('GET', path);
      expect({ what, poweredBy: headers['x-powered-by'], nosniff: headers['x-content-type-options'] }).toEqual({
        what,
        poweredBy: undefined,
        nosniff: 'nosniff',
      });
      expect({ what, csp: headers['content-security-policy'] }).toEqual({ what, csp: expect.any(String) });
    }
  });

  it('never answers with a token secret again, only its prefix', async () => {
    const created = await createToken(admin, { name: 'secret-check' });
    expect(created.token).toMatch(/^gct_[A-Za-z0-9_-]{43}$/);
    for (const [who, api] of [
      ['admin', admin],
      ['the token itself', admin.withToken(created.token)],
    ] as const) {
      const list = (await api.call<Token[]>('GET', '/api/tokens', undefined, 200)).body;
      expect({ who, listed: list.find((t) => t.id === created.id) }).toEqual({
        who,
        listed: expect.objectContaining({ prefix: created.prefix, name: 'secret-check' }),
      });
      expect(list.filter((t) => 'token' in t)).toEqual([]);
      expect(JSON.stringify(list)).not.toContain(created.token);
      expect(JSON.stringify(list)).not.toContain(TEST_ADMIN_TOKEN);
    }
    for (const path of ['/api/auth/me', '/api/users', '/api/audit?limit=500']) {
      const text = JSON.stringify((await admin.call('GET', path, undefined, 200)).body);
      expect({
        path,
        leaks: [created.token, TEST_ADMIN_TOKEN, OPERATOR_PASSWORD].filter((s) => text.includes(s)),
      }).toEqual({ path, leaks: [] });
      // Nor a password hash (users were created with passwords; the audit log records user changes).
      expect({ path, hash: /scrypt\$|passwordHash|tokenHash/.exec(text)?.[0] }).toEqual({ path, hash: undefined });
    }
    // prefix: `gct_` and the next 8 characters of the secret (48 of its 256 random bits: enough to tell tokens apart).
    expect(created.prefix).toBe(created.token.slice(0, 12));
    expect(created.token).toMatch(/^gct_[A-Za-z0-9_-]{43}$/);
  });
});

describe('login brute force', () => {
  let admin: Api;

  beforeAll(async () => {
    const executorPort = await freePort(); // nothing listens there: no run is started here
    const dispatcher = await startDispatcher(
      { ...(await sqliteEnv('auth-brute')), GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'dispatcher-brute',
    );
    admin = new Api(dispatcher.base);
  });

  afterAll(() => stopAllApps());

  it('answers 10 wrong passwords with 401, then the 11th attempt, right password or not, with 429 and Retry-After', async () => {
    const password = 'the-right-password';
    await createUser(admin, 'victim', 'operator', password);
    const anonymous = admin.withToken(null);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await anonymous.call<{ message: string }>('POST', '/api/auth/login', {
        username: 'victim',
        password: `wrong-${i}`,
      });
      statuses.push(res.status);
      if (res.status === 401) expect(res.body.message).toBe('invalid username or password');
    }
    expect(statuses).toEqual(Array(10).fill(401));
    const locked = await anonymous.call<{ statusCode: number }>('POST', '/api/auth/login', {
      username: 'victim',
      password,
    });
    expect({ status: locked.status, body: locked.body }).toEqual({
      status: 429,
      body: expect.objectContaining({ statusCode: 429 }),
    });
    const retryAfter = Number(locked.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 15 * 60).toBe(true);
    // The lock-out set no cookie.
    expect(setCookies(locked.headers)).toEqual({});
  });
});

describe('first start: two dispatchers at once on one empty MariaDB database, no admin token configured', () => {
  let db: TestDatabase;

  afterAll(async () => {
    await stopAllApps();
    await db?.drop();
  });

  it('ends with exactly one user, whose token is in data/admin-token (0600) and accepted by both', async () => {
    db = await createMysqlDatabase('auth_bootstrap');
    const cwd = tmpDir('auth-bootstrap');
    // GOCRON_AUTH_ADMIN_TOKEN undefined: none configured, so the first start bootstraps from <cwd>/data/admin-token.
    const env = { ...db.env, GOCRON_AUTH_ADMIN_TOKEN: undefined };
    const [d1, d2] = await Promise.all([
      startDispatcher(env, 'boot-1', undefined, { cwd }),
      startDispatcher(env, 'boot-2', undefined, { cwd }),
    ]);
    const file = join(cwd, 'data', 'admin-token');
    expect(existsSync(file)).toBe(true);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    const content = readFileSync(file, 'utf8');
    expect(content).toMatch(/^gct_[A-Za-z0-9_-]{43}\n?$/);
    const token = content.trim();

    for (const d of [d1, d2]) {
      const api = new Api(d.base, token);
      expect({ base: d.base, me: (await api.call('GET', '/api/auth/me', undefined, 200)).body }).toEqual({
        base: d.base,
        me: expect.objectContaining({ username: 'admin', role: 'admin', via: 'token' }),
      });
      const users = (await api.call<User[]>('GET', '/api/users', undefined, 200)).body;
      expect(users).toEqual([expect.objectContaining({ username: 'admin', role: 'admin', disabled: false })]);
      // The suites' usual token was configured nowhere here.
      await new Api(d.base).call('GET', '/api/jobs', undefined, 401);
    }
    const bootstraps = (await new Api(d1.base, token).call<AuditPage>('GET', '/api/audit?action=auth.bootstrap')).body;
    expect(bootstraps.items).toHaveLength(1);

    // A restart neither rewrites the file nor adds a user.
    await d1.app.kill('SIGTERM');
    const again = await startDispatcher(env, 'boot-1-again', undefined, { cwd });
    expect(readFileSync(file, 'utf8')).toBe(content);
    const api = new Api(again.base, token);
    expect((await api.call<User[]>('GET', '/api/users', undefined, 200)).body).toHaveLength(1);
  });
});
