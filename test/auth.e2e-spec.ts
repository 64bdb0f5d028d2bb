// The API's authentication attacked from outside (issue 12), against real processes: a dispatcher and an executor on
// SQLite for the route table, tokens, roles, CSRF, content types, Host, audit and headers; a dispatcher of its own
// for the login brute force, and one for each parallel burst of guesses (failure counters and the sign-in throttle
// are per address, and every request here comes from 127.0.0.1); one with [auth] public_docs = false for the
// docs; two dispatchers started at once on one empty MariaDB database with no admin token configured for the
// first-start bootstrap. /work/notes/auth-api.md is the contract every expectation here comes from.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { IncomingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Api, bearer, Job, sqliteEnv, startDispatcher, startExecutor, TEST_ADMIN_TOKEN } from './support/gocron';
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

/** What a browser sends back after a sign-in: both cookies the answer set. */
function sessionCookie(login: { headers: IncomingHttpHeaders }): { cookie: string; csrf: string; session: string } {
  const cookies = setCookies(login.headers);
  const session = cookies.gocron_session.value;
  const csrf = cookies.gocron_csrf.value;
  return { cookie: `gocron_session=${session}; gocron_csrf=${csrf}`, csrf, session };
}

/**
 * The status of a request written byte for byte on a socket: what node:http will not send (two Host headers).
 * `head` is the request line and the header lines; `Connection: close` is added.
 */
function rawSocketStatus(port: number, head: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no status line within 10 s')));
    socket.once('connect', () => socket.write(`${[...head, 'Connection: close'].join('\r\n')}\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (!m) return;
      resolve(Number(m[1]));
      socket.destroy();
    });
    socket.on('error', reject);
    socket.once('close', () => reject(new Error(`closed before a status line: ${JSON.stringify(text.slice(0, 200))}`)));
  });
}

interface EventStream {
  status: number;
  /** When the server ended the stream (Date.now()), or null while it is open. */
  endedAt(): number | null;
  /** Ends it from this side (cleanup). */
  close(): void;
}

/** GET /api/events over node:http, open until the server ends it or close() is called. */
function openEventStream(base: string, headers: Record<string, string>): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    let endedAt: number | null = null;
    const ended = () => (endedAt ??= Date.now());
    const req = request(`${base}/api/events`, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
    // Bounds the wait for the answer's head only: a stream may stay silent for as long as nothing changes.
    const headTimer = setTimeout(() => req.destroy(new Error('GET /api/events: no answer within 10 s')), 10_000);
    req.once('response', (res) => {
      clearTimeout(headTimer);
      res.on('data', () => undefined);
      res.on('end', ended);
      res.on('close', ended);
      res.on('error', ended);
      resolve({ status: res.statusCode ?? 0, endedAt: () => endedAt, close: () => req.destroy() });
    });
    req.on('error', (e) => {
      clearTimeout(headTimer);
      ended();
      reject(e);
    });
    req.end();
  });
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

  it('lets no token scoped below its user set that user a password; the full admin token may', async () => {
    const adminUser = (await admin.call<User[]>('GET', '/api/users', undefined, 200)).body.find(
      (u) => u.username === 'admin',
    )!;
    expect(adminUser).toMatchObject({ role: 'admin', hasPassword: false });
    // A viewer token for a scraper: with a password of its choosing it would sign in as the admin.
    const scoped = admin.withToken((await createToken(admin, { name: 'admin as viewer', role: 'viewer' })).token);
    expect((await scoped.call('GET', '/api/auth/me', undefined, 200)).body).toMatchObject({
      id: adminUser.id,
      role: 'viewer',
    });
    const refused = await scoped.call<{ message: string }>('PATCH', `/api/users/${adminUser.id}`, {
      password: 'chosen-by-the-scraper',
    });
    expect({ status: refused.status, message: refused.body.message }).toEqual({
      status: 403,
      message: expect.stringMatching(/^this credential is viewer, below admin's role admin/),
    });
    const still = (await admin.call<User[]>('GET', '/api/users', undefined, 200)).body;
    expect(still.find((u) => u.id === adminUser.id)).toMatchObject({ hasPassword: false });
    await anonymous.call('POST', '/api/auth/login', { username: 'admin', password: 'chosen-by-the-scraper' }, 401);

    // A user's own full token still sets its own first password (the rule is about scope, not about admins).
    const self = await createUser(admin, 'self-service', 'viewer');
    const selfApi = admin.withToken((await createToken(admin, { name: 'self', userId: self.id })).token);
    const own = await selfApi.call<User>('PATCH', `/api/users/${self.id}`, { password: 'self-password-1' }, 200);
    expect(own.body).toMatchObject({ id: self.id, hasPassword: true });

    const set = await admin.call<User>('PATCH', `/api/users/${adminUser.id}`, { password: 'admin-password-1' }, 200);
    expect(set.body).toMatchObject({ id: adminUser.id, hasPassword: true });
  });

  it('ends a token made with a token when its parent expires or is revoked, and a session opened with the parent', async () => {
    const parent = await createToken(admin, {
      name: 'short-lived parent',
      expiresAt: new Date(Date.now() + 3000).toISOString(),
    });
    const parentApi = admin.withToken(parent.token);
    // Asked for no expiry, or a later one: it gets its parent's.
    const child = await createToken(parentApi, { name: 'laundered' });
    expect(child.expiresAt).toBe(parent.expiresAt);
    const later = await createToken(parentApi, {
      name: 'laundered later',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(later.expiresAt).toBe(parent.expiresAt);
    const childApi = admin.withToken(child.token);
    await childApi.call('GET', '/api/jobs', undefined, 200);
    await waitFor(async () => (await childApi.call('GET', '/api/jobs')).status === 401, {
      timeoutMs: 15_000,
      what: 'the child token expires with its parent',
      intervalMs: 250,
    });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(parent.expiresAt!));
    await parentApi.call('GET', '/api/jobs', undefined, 401);

    // Revoked: the parent takes with it the tokens it made, directly or through a session opened with it.
    const root = await createToken(admin, { name: 'parent' });
    const rootApi = admin.withToken(root.token);
    const direct = await createToken(rootApi, { name: 'made with the parent' });
    expect(direct.expiresAt).toBeNull();
    const login = await anonymous.call('POST', '/api/auth/login', { token: root.token }, 200);
    const { cookie, csrf } = sessionCookie(login);
    const viaSession = (
      await anonymous.call<NewToken>('POST', '/api/tokens', { name: 'made in its session' }, 201, {
        cookie,
        'x-csrf-token': csrf,
      })
    ).body;
    const probes = {
      direct: () => admin.withToken(direct.token).call('GET', '/api/jobs'),
      viaSession: () => admin.withToken(viaSession.token).call('GET', '/api/jobs'),
      session: () => anonymous.call('GET', '/api/auth/me', undefined, undefined, { cookie }),
    };
    const statuses = async () => {
      const out: Record<string, number> = {};
      for (const [what, probe] of Object.entries(probes)) out[what] = (await probe()).status;
      return out;
    };
    expect(await statuses()).toEqual({ direct: 200, viaSession: 200, session: 200 });
    await admin.call('DELETE', `/api/tokens/${root.id}`, undefined, 204);
    expect(await statuses()).toEqual({ direct: 401, viaSession: 401, session: 401 });
    const left = (await admin.call<Token[]>('GET', '/api/tokens', undefined, 200)).body.map((t) => t.id);
    expect(left.filter((id) => [root.id, direct.id, viaSession.id].includes(id))).toEqual([]);
  });

  it('does not let a viewer-scoped token revoke a stronger token of its own user; the admin token may', async () => {
    const scoped = admin.withToken((await createToken(admin, { name: 'admin as viewer', role: 'viewer' })).token);
    const strong = await createToken(admin, { name: 'admin-role target' });
    expect(strong.role).toBe('admin');
    const refused = await scoped.call<{ message: string }>('DELETE', `/api/tokens/${strong.id}`);
    expect({ status: refused.status, message: refused.body.message }).toEqual({
      status: 403,
      message: `token ${strong.id} is admin: a viewer credential can not revoke it`,
    });
    await admin.withToken(strong.token).call('GET', '/api/users', undefined, 200);
    // One of its own rank it may revoke.
    const weak = await createToken(admin, { name: 'viewer-role target', role: 'viewer' });
    await scoped.call('DELETE', `/api/tokens/${weak.id}`, undefined, 204);
    await admin.call('DELETE', `/api/tokens/${strong.id}`, undefined, 204);
    await admin.withToken(strong.token).call('GET', '/api/jobs', undefined, 401);
  });

  it('ends an open event stream soon after its token is revoked, and only that one', async () => {
    const doomed = await createToken(admin, { name: 'stream to revoke', role: 'viewer' });
    const kept = await createToken(admin, { name: 'stream to keep', role: 'viewer' });
    const streams = await Promise.all([
      openEventStream(admin.base, bearer(doomed.token)),
      openEventStream(admin.base, bearer(kept.token)),
    ]);
    try {
      const [revoked, other] = streams;
      expect([revoked.status, other.status]).toEqual([200, 200]);
      expect([revoked.endedAt(), other.endedAt()]).toEqual([null, null]);
      const at = Date.now();
      await admin.call('DELETE', `/api/tokens/${doomed.id}`, undefined, 204);
      const endedAt = await waitFor(() => revoked.endedAt(), {
        timeoutMs: 15_000,
        what: 'the stream of the revoked token ends',
        intervalMs: 50,
      });
      expect(endedAt).toBeGreaterThanOrEqual(at);
      // Its neighbour, checked as often, is still open.
      expect(other.endedAt()).toBeNull();
    } finally {
      for (const s of streams) s.close();
    }
  });

  it('answers null in an auth body with 400 naming the field, and changes nothing', async () => {
    const target = await createUser(admin, 'null-target', 'viewer');
    const attempts: [string, string, Record<string, unknown>, string][] = [
      ['PATCH', `/api/users/${target.id}`, { disabled: null }, 'disabled'],
      ['PATCH', `/api/users/${target.id}`, { role: null }, 'role'],
      ['PATCH', `/api/users/${target.id}`, { password: null }, 'password'],
      ['POST', '/api/tokens', { name: 'a', expiresAt: null }, 'expiresAt'],
      ['POST', '/api/tokens', { name: 'a', role: null }, 'role'],
      ['POST', '/api/tokens', { name: 'a', userId: null }, 'userId'],
    ];
    for (const [method, path, body, field] of attempts) {
      const res = await admin.call<{ message: string[] }>(method, path, body);
      expect({ method, path, body, status: res.status, message: res.body.message }).toEqual({
        method,
        path,
        body,
        status: 400,
        message: [`${field} must not be null`],
      });
    }
    const users = (await admin.call<User[]>('GET', '/api/users', undefined, 200)).body;
    expect(users.find((u) => u.id === target.id)).toMatchObject({
      role: 'viewer',
      disabled: false,
      hasPassword: false,
    });
    const tokens = (await admin.call<Token[]>('GET', '/api/tokens', undefined, 200)).body;
    expect(tokens.filter((t) => t.name === 'a')).toEqual([]);
  });

  it('serves the OpenAPI document as JSON only: /api/docs-yaml is 404', async () => {
    await anonymous.call('GET', '/api/docs-json', undefined, 200);
    for (const api of [anonymous, admin]) {
      expect({ token: api.token !== null, status: (await api.call('GET', '/api/docs-yaml')).status }).toEqual({
        token: api.token !== null,
        status: 404,
      });
    }
  });

  it('answers Host headers that only look local, and a repeated Host, with 421', async () => {
    const url = `${admin.base}/api/jobs`;
    const port = Number(new URL(url).port);
    for (const host of [
      'localhost:80@evil',
      `localhost:${port}@evil.example`,
      '[::1].evil.com',
      `[::1].evil.com:${port}`,
      'localhost:evil',
      `localhost:${port}/evil.example`,
      `evil.example@localhost:${port}`,
    ]) {
      const res = await rawRequest(url, 'GET', { ...admin.authHeaders(), host });
      expect({ host, status: res.status }).toEqual({ host, status: 421 });
    }
    // Bracketed loopback IPv6 is a real Host, and served.
    expect((await rawRequest(url, 'GET', { ...admin.authHeaders(), host: `[::1]:${port}` })).status).toBe(200);

    const head = (hosts: string[]) => [
      'GET /api/jobs HTTP/1.1',
      ...hosts.map((h) => `Host: ${h}`),
      `Authorization: Bearer ${TEST_ADMIN_TOKEN}`,
    ];
    // The same request with one Host: well-formed, and answered.
    expect(await rawSocketStatus(port, head([`localhost:${port}`]))).toBe(200);
    for (const hosts of [
      [`localhost:${port}`, 'evil.example'],
      ['evil.example', `localhost:${port}`],
      [`localhost:${port}`, `127.0.0.1:${port}`],
    ]) {
      expect({ hosts, status: await rawSocketStatus(port, head(hosts)) }).toEqual({ hosts, status: 421 });
    }
  });

  it('refuses a request with two gocron_session (or gocron_csrf) cookies with 401, whichever comes first', async () => {
    const signIn = async () =>
      sessionCookie(
        await anonymous.call('POST', '/api/auth/login', { username: 'operator-1', password: OPERATOR_PASSWORD }, 200),
      );
    const mine = await signIn();
    const other = await signIn();
    await anonymous.call('GET', '/api/auth/me', undefined, 200, { cookie: mine.cookie });
    // A sibling site on this host can set a cookie of the same name (cookie tossing): a valid session or not.
    const tossed = forgedToken().slice(4);
    for (const cookie of [
      `gocron_session=${mine.session}; gocron_session=${other.session}; gocron_csrf=${mine.csrf}`,
      `gocron_session=${mine.session}; gocron_session=${tossed}; gocron_csrf=${mine.csrf}`,
      `gocron_session=${tossed}; gocron_session=${mine.session}; gocron_csrf=${mine.csrf}`,
      `gocron_session=${mine.session}; gocron_session=${mine.session}; gocron_csrf=${mine.csrf}`,
      `${mine.cookie}; gocron_csrf=${tossed}`,
    ]) {
      const res = await anonymous.call('GET', '/api/auth/me', undefined, undefined, { cookie });
      expect({ cookie, status: res.status }).toEqual({ cookie, status: 401 });
    }
    // Nothing was signed out by them: the single cookie still works.
    await anonymous.call('GET', '/api/auth/me', undefined, 200, { cookie: mine.cookie });
  });

  it('keeps usernames in lower case: Alice is alice, taken in any case, and signs in as ALICE with a blank', async () => {
    const password = 'alice-password-1';
    const created = await createUser(admin, 'Alice', 'viewer', password);
    expect(created.username).toBe('alice');
    const listed = (await admin.call<User[]>('GET', '/api/users', undefined, 200)).body;
    expect(listed.filter((u) => u.username.toLowerCase() === 'alice')).toEqual([
      expect.objectContaining({ id: created.id, username: 'alice' }),
    ]);
    for (const username of ['alice', 'ALICE', ' Alice ']) {
      const res = await admin.call('POST', '/api/users', { username, role: 'admin' });
      expect({ username, status: res.status }).toEqual({ username, status: 409 });
    }
    const login = await anonymous.call<{ user: User }>('POST', '/api/auth/login', { username: 'ALICE ', password });
    expect({ status: login.status, user: login.body.user }).toEqual({
      status: 200,
      user: expect.objectContaining({ id: created.id, username: 'alice', role: 'viewer' }),
    });
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

describe('a parallel burst of wrong passwords, each burst on a dispatcher of its own', () => {
  const BURST = 30;
  const password = 'the-right-password';
  let plain: Api;
  let withTokens: Api;

  /** A dispatcher on a fresh database (its failure counts and sign-in throttle start at zero), holding user `target`. */
  async function fresh(name: string): Promise<Api> {
    const executorPort = await freePort(); // nothing listens there: no run is started here
    const dispatcher = await startDispatcher(
      { ...(await sqliteEnv(name)), GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      name,
    );
    const api = new Api(dispatcher.base);
    await createUser(api, 'target', 'operator', password);
    return api;
  }

  beforeAll(async () => {
    [plain, withTokens] = await Promise.all([fresh('dispatcher-burst'), fresh('dispatcher-burst-tokens')]);
  });

  afterAll(() => stopAllApps());

  /** BURST wrong passwords for `target`, all sent at once; request i with `headers(i)`. Their statuses, by count. */
  async function burst(api: Api, headers: (i: number) => Record<string, string>): Promise<Record<number, number>> {
    const answers = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        httpJson(
          'POST',
          `${api.base}/api/auth/login`,
          { username: 'target', password: `wrong-${i}` },
          {
            headers: headers(i),
            timeoutMs: 30_000,
          },
        ),
      ),
    );
    const counts: Record<number, number> = {};
    for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
    return counts;
  }

  /** Not more than 10 guesses verified (401); every other one refused unverified (429). */
  function expectAtMostTenVerified(counts: Record<number, number>): void {
    expect(Object.keys(counts).filter((s) => s !== '401' && s !== '429')).toEqual([]);
    expect(counts[401] ?? 0).toBeLessThanOrEqual(10);
    expect((counts[401] ?? 0) + (counts[429] ?? 0)).toBe(BURST);
  }

  it('verifies at most 10 of them (401) and answers the rest 429', async () => {
    expectAtMostTenVerified(await burst(plain, () => ({})));
  });

  it('verifies at most 10 also when each carries another valid bearer token, and throttles sign-ins per address', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 5; i++) tokens.push((await createToken(withTokens, { name: `t${i}`, role: 'viewer' })).token);
    expectAtMostTenVerified(await burst(withTokens, (i) => bearer(tokens[i % tokens.length])));
    // The 31st sign-in of this address within the minute, whichever token it shows (each has sent only 6), meets
    // the per-address throttle, not the failure limit.
    const next = await withTokens
      .withToken(tokens[0])
      .call<{ message: string }>('POST', '/api/auth/login', { username: 'target', password });
    expect({ status: next.status, message: next.body.message }).toEqual({
      status: 429,
      message: expect.stringMatching(/^too many requests: at most 30 per 60 s/),
    });
  });
});

describe('docs behind a credential ([auth] public_docs = false)', () => {
  let admin: Api;

  beforeAll(async () => {
    const executorPort = await freePort(); // nothing listens there: no run is started here
    const dispatcher = await startDispatcher(
      {
        ...(await sqliteEnv('auth-private-docs')),
        GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}`,
        GOCRON_AUTH_PUBLIC_DOCS: 'false',
      },
      'dispatcher-private-docs',
    );
    admin = new Api(dispatcher.base);
  });

  afterAll(() => stopAllApps());

  it('answers /api/docs and /api/docs-json 401 without a token and 200 with a viewer one; /api/docs-yaml never serves', async () => {
    const viewer = admin.withToken((await createToken(admin, { name: 'docs reader', role: 'viewer' })).token);
    const anonymous = admin.withToken(null);
    const statuses = async (api: Api) => {
      const out: Record<string, number> = {};
      for (const path of ['/api/docs', '/api/docs-json', '/api/docs-yaml'])
        out[path] = (await api.call('GET', path)).status;
      return out;
    };
    expect({ anonymous: await statuses(anonymous), viewer: await statuses(viewer) }).toEqual({
      anonymous: { '/api/docs': 401, '/api/docs-json': 401, '/api/docs-yaml': 401 },
      viewer: { '/api/docs': 200, '/api/docs-json': 200, '/api/docs-yaml': 404 },
    });
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
