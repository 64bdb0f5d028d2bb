import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { HttpRunner } from './http-runner';
import { HttpTask, RunContext } from './task-runner';

function ctx(overrides: Partial<RunContext> = {}): RunContext {
  return { runId: 42, jobId: 7, scheduledAt: '2026-01-02T03:04:05.000Z', attempt: 2, timeoutMs: 5000, ...overrides };
}

async function waitFor(probe: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('HttpRunner', () => {
  const runner = new HttpRunner();
  let server: Server;
  let base: string;
  let hanging = 0;

  function task(path: string, overrides: Partial<HttpTask> = {}): HttpTask {
    return { method: 'GET', url: base + path, headers: {}, body: '', expectStatus: [], ...overrides };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const status = /^\/status\/(\d+)$/.exec(url.pathname);
    if (status) {
      res.writeHead(Number(status[1]), { 'content-type': 'text/plain' }).end(`status ${status[1]}`);
    } else if (url.pathname === '/echo') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString() }));
    } else if (url.pathname === '/redirect') {
      const to = url.searchParams.get('to') ?? '/echo';
      res.writeHead(Number(url.searchParams.get('code') ?? 302), { location: to }).end('moved');
    } else if (url.pathname === '/loop') {
      res.writeHead(302, { location: '/loop' }).end();
    } else if (url.pathname === '/gzip') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }).end(gzipSync('hello, gzip'));
    } else if (url.pathname === '/hang') {
      hanging++;
    } else if (url.pathname === '/hang-in-body') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial body');
      hanging++;
    } else if (url.pathname === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('BEGIN');
      const chunk = Buffer.alloc(64 * 1024, 'b');
      for (let i = 0; i < 32; i++) {
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end('END');
    } else {
      res.writeHead(404).end();
    }
  }

  beforeAll(async () => {
    server = createServer((req, res) => void handle(req, res));
    base = `http://127.0.0.1:${await listen(server)}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    hanging = 0;
  });

  it('succeeds on a 2xx and records status and body', async () => {
    const outcome = await runner.start(ctx(), task('/status/200')).done;
    expect(outcome).toEqual({
      status: 'succeeded',
      exitCode: null,
      httpStatus: 200,
      output: 'status 200',
      outputTruncated: false,
      error: null,
    });
  });

  it('fails on a status outside 200-299, keeping the body', async () => {
    const outcome = await runner.start(ctx(), task('/status/500')).done;
    expect(outcome).toMatchObject({
      status: 'failed',
      httpStatus: 500,
      output: 'status 500',
      error: 'unexpected HTTP status 500 (expected 200-299)',
    });
  });

  it('checks against expectStatus when given', async () => {
    const accepted = await runner.start(ctx(), task('/status/404', { expectStatus: [200, 404] })).done;
    expect(accepted).toMatchObject({ status: 'succeeded', httpStatus: 404 });
    const rejected = await runner.start(ctx(), task('/status/201', { expectStatus: [200, 204] })).done;
    expect(rejected).toMatchObject({ status: 'failed', error: 'unexpected HTTP status 201 (expected 200, 204)' });
  });

  it('sends the task headers, the body and the X-Gocron headers, which a task cannot override', async () => {
    const outcome = await runner.start(
      ctx(),
      task('/echo', {
        method: 'post',
        headers: { 'X-Custom': 'yes', 'Content-Type': 'text/plain', 'X-Gocron-Run-Id': 'spoofed' },
        body: 'payload',
      }),
    ).done;
    expect(outcome.status).toBe('succeeded');
    const echoed = JSON.parse(outcome.output) as { method: string; headers: Record<string, string>; body: string };
    expect(echoed.method).toBe('POST');
    expect(echoed.body).toBe('payload');
    expect(echoed.headers).toMatchObject({
      'x-custom': 'yes',
      'content-type': 'text/plain',
      'x-gocron-job-id': '7',
      'x-gocron-run-id': '42',
      'x-gocron-scheduled-at': '2026-01-02T03:04:05.000Z',
      'x-gocron-attempt': '2',
    });
  });

  it("sends a dependency run's parent run ids, and never a task's own X-Gocron-Parent-Run-Ids", async () => {
    const spoofing = task('/echo', { headers: { 'x-gocron-PARENT-run-ids': 'spoofed' } });
    const dependent = await runner.start(ctx({ parents: { runIds: [3, 11], runs: [] } }), spoofing).done;
    const plain = await runner.start(ctx(), spoofing).done;
    const headersOf = (output: string) => (JSON.parse(output) as { headers: Record<string, string> }).headers;
    expect(headersOf(dependent.output)['x-gocron-parent-run-ids']).toBe('3,11');
    expect(headersOf(plain.output)).not.toHaveProperty('x-gocron-parent-run-ids');
  });

  it('follows redirects, turning a POST into a GET on 303 and keeping it on 307', async () => {
    const seeOther = await runner.start(ctx(), task('/redirect?code=303', { method: 'POST', body: 'x' })).done;
    expect(seeOther).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    expect(JSON.parse(seeOther.output)).toMatchObject({ method: 'GET', body: '' });
    const temporary = await runner.start(ctx(), task('/redirect?code=307', { method: 'POST', body: 'x' })).done;
    expect(JSON.parse(temporary.output)).toMatchObject({ method: 'POST', body: 'x' });
    expect(JSON.parse(temporary.output).headers).toMatchObject({ 'x-gocron-run-id': '42' });
  });

  it('drops the body headers on a redirect to GET, and credentials on a redirect to another origin', async () => {
    const headers = { Authorization: 'Bearer secret', Cookie: 'a=b', 'Content-Type': 'application/json' };
    const sameOrigin = await runner.start(ctx(), task('/redirect?code=303', { method: 'POST', body: '{}', headers }))
      .done;
    const echoed = JSON.parse(sameOrigin.output) as { headers: Record<string, string> };
    expect(echoed.headers).toMatchObject({ authorization: 'Bearer secret', cookie: 'a=b' });
    expect(echoed.headers['content-type']).toBeUndefined();
    // 127.0.0.1 and localhost are different origins (same server).
    const other = base.replace('127.0.0.1', 'localhost');
    const crossOrigin = await runner.start(
      ctx(),
      task(`/redirect?code=307&to=${encodeURIComponent(`${other}/echo`)}`, { headers }),
    ).done;
    const moved = JSON.parse(crossOrigin.output) as { headers: Record<string, string> };
    expect(moved.headers.authorization).toBeUndefined();
    expect(moved.headers.cookie).toBeUndefined();
    expect(moved.headers['x-gocron-run-id']).toBe('42');
  });

  it('drops secret headers of any name on a redirect to another origin, and keeps them on the same origin', async () => {
    const headers = { 'X-Vault-Token': 'vault-secret', 'X-Plain': 'p' };
    const secret = ['x-vault-token'];
    const same = await runner.start(ctx(), task('/redirect?code=307', { headers }), secret).done;
    expect((JSON.parse(same.output) as { headers: Record<string, string> }).headers['x-vault-token']).toBe(
      'vault-secret',
    );
    const other = base.replace('127.0.0.1', 'localhost');
    const cross = await runner.start(
      ctx(),
      task(`/redirect?code=307&to=${encodeURIComponent(`${other}/echo`)}`, { headers }),
      secret,
    ).done;
    const moved = JSON.parse(cross.output) as { headers: Record<string, string> };
    expect(moved.headers['x-vault-token']).toBeUndefined();
    expect(moved.headers['x-plain']).toBe('p');
  });

  it('fails after 20 redirects, naming why', async () => {
    const outcome = await runner.start(ctx(), task('/loop')).done;
    expect(outcome).toMatchObject({
      status: 'failed',
      httpStatus: 302,
      error: 'redirect count exceeded (20)',
    });
  });

  it("sends fetch's default headers unless the job sets its own, and decodes a compressed body", async () => {
    const plain = await runner.start(ctx(), task('/echo')).done;
    expect((JSON.parse(plain.output) as { headers: Record<string, string> }).headers).toMatchObject({
      accept: '*/*',
      'user-agent': 'gocron-ts',
      'accept-encoding': 'gzip, deflate, br',
    });
    const own = await runner.start(ctx(), task('/echo', { headers: { 'User-Agent': 'mine/1.0' } })).done;
    expect((JSON.parse(own.output) as { headers: Record<string, string> }).headers['user-agent']).toBe('mine/1.0');
    const zipped = await runner.start(ctx(), task('/gzip')).done;
    expect(zipped).toMatchObject({ status: 'succeeded', output: 'hello, gzip' });
  });

  it('sends no body with GET', async () => {
    const outcome = await runner.start(ctx(), task('/echo', { body: 'ignored' })).done;
    expect(outcome.status).toBe('succeeded');
    expect(JSON.parse(outcome.output)).toMatchObject({ method: 'GET', body: '' });
  });

  it('times out against a server that never answers', async () => {
    const outcome = await runner.start(ctx({ timeoutMs: 300 }), task('/hang')).done;
    expect(hanging).toBe(1);
    expect(outcome).toMatchObject({ status: 'timed_out', httpStatus: null, error: 'timed out after 300 ms' });
  });

  it('times out while the body is still arriving, keeping what came', async () => {
    const outcome = await runner.start(ctx({ timeoutMs: 300 }), task('/hang-in-body')).done;
    expect(outcome).toMatchObject({ status: 'timed_out', httpStatus: 200, output: 'partial body' });
  });

  it('cancels an in-flight request', async () => {
    const running = runner.start(ctx(), task('/hang'));
    await waitFor(() => hanging === 1, 3000, 'the request to arrive');
    running.cancel('job deleted');
    expect(await running.done).toMatchObject({ status: 'cancelled', error: 'job deleted' });

    const other = runner.start(ctx(), task('/hang'));
    other.cancel();
    expect(await other.done).toMatchObject({ status: 'cancelled', error: 'cancelled' });
  });

  it('reports a refused connection with its cause', async () => {
    const closed = createServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const outcome = await runner.start(ctx(), task('/', { url: `http://127.0.0.1:${port}/` })).done;
    expect(outcome).toMatchObject({ status: 'failed', httpStatus: null });
    expect(outcome.error).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('reports an invalid request as a failure, not a rejection', async () => {
    const outcome = await runner.start(ctx(), task('/', { url: 'not a url' })).done;
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toMatch(/invalid url/i);
  });

  it('keeps the head and tail of a large body within the limit', async () => {
    const outcome = await runner.start(ctx(), task('/big')).done;
    expect(outcome).toMatchObject({ status: 'succeeded', outputTruncated: true });
    expect(Buffer.byteLength(outcome.output)).toBeLessThanOrEqual(64 * 1024);
    expect(outcome.output.startsWith('BEGINbbb')).toBe(true);
    expect(outcome.output.endsWith('bbbEND')).toBe(true);
  });
});

describe('HttpRunner egress', () => {
  let server: Server;
  let port: number;
  const hits: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to');
      if (to) res.writeHead(302, { location: to }).end('moved');
      else res.writeHead(200).end('reached');
    });
    port = await listen(server);
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => (hits.length = 0));

  const get = (runner: HttpRunner, url: string) =>
    runner.start(ctx(), { method: 'GET', url, headers: {}, body: '', expectStatus: [] }).done;

  it('refuses the metadata address in any notation before connecting, storing nothing', async () => {
    const runner = new HttpRunner();
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://2852039166/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://0.0.0.0:1/',
    ]) {
      const r = await get(runner, url);
      expect(r).toMatchObject({ status: 'failed', httpStatus: null, output: '' });
      expect(r.error).toMatch(/^egress refused: .* is (in \[executor\] http_deny|"this host")/);
    }
  });

  it('refuses a redirect to a denied address, keeping neither body', async () => {
    const r = await get(new HttpRunner(), `http://127.0.0.1:${port}/?to=http://169.254.169.254/`);
    expect(r.status).toBe('failed');
    expect(r.error).toBe('egress refused: 169.254.169.254 is in [executor] http_deny (169.254.0.0/16)');
    expect(r.output).toBe('');
    expect(hits).toHaveLength(1);
  });

  it('checks a name after resolution, and on redirects to a name', async () => {
    const { EgressPolicy } = await import('@app/common');
    const runner = new HttpRunner(new EgressPolicy([], ['127.0.0.0/8']));
    const direct = await get(runner, `http://localhost:${port}/`);
    expect(direct.error).toMatch(/^egress refused: localhost resolves to 127\.0\.0\.1 is in \[executor\] http_deny/);
    expect(hits).toHaveLength(0);
    const allowed = new HttpRunner(new EgressPolicy(['127.0.0.1'], ['127.0.0.0/8']));
    expect(await get(allowed, `http://localhost:${port}/`)).toMatchObject({ status: 'succeeded', output: 'reached' });
  });

  it("refuses a dispatcher's API reached by name", async () => {
    const { EgressPolicy } = await import('@app/common');
    const runner = new HttpRunner(new EgressPolicy([], [], () => [{ host: '127.0.0.1', port }]));
    const r = await get(runner, `http://localhost:${port}/`);
    expect(r.error).toContain("is a dispatcher's API");
    expect(hits).toHaveLength(0);
  });
});
