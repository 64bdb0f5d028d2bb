// Live output (issue 14, item 5): a running run's output, read while it runs. A dispatcher and an executor as real
// processes on SQLite; GET /api/runs/:id/output?follow=true is read with Node's fetch as a browser's EventSource
// would: events arrive before the run is final, add up to the recorded output, end with the status, resume after a
// Last-Event-ID, need a credential (a viewer's token or session cookie), and never carry a job secret.
import { status } from '@grpc/grpc-js';
import type { ExecutorGrpcClient } from '../apps/dispatcher/src/executor-client/executor-grpc.client';
import { Api, bearer, Dispatcher, executorClient, sqliteEnv, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { freePort } from './support/services';

const ONCE_A_YEAR = '0 0 1 1 *';
const SECRET = 'liveSecret-Qz7Wm2Hx4';
// Lines with pauses, then the secret printed in two writes with a pause between (printf '%.8s' is its first 8).
const COMMAND =
  'for i in 1 2 3 4 5; do echo line$i; sleep 0.5; done; ' +
  `printf 'secret=%.8s' "$TOKEN"; sleep 0.3; printf '%s\\n' "\${TOKEN#????????}"; echo done`;
const EXPECTED = 'line1\nline2\nline3\nline4\nline5\nsecret=***\ndone\n';

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      { description: string; parameters: { name: string }[]; responses: Record<string, { content: object }> }
    >
  >;
}

interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

interface EventStream {
  status: number;
  contentType: string | null;
  events: SseEvent[];
  /** Resolves when the server ends the stream. */
  done: Promise<void>;
  close(): void;
}

/**
 * Opens an event stream with fetch and parses it as EventSource does (fields `event`, `id`, `data`; `:` comments
 * skipped); `onEvent` is awaited before the next event is read, and answering true closes the stream. A non-200
 * answer is returned with no events.
 */
async function openStream(
  url: string,
  headers: Record<string, string>,
  onEvent: (e: SseEvent) => Promise<boolean | void> | boolean | void = () => undefined,
): Promise<EventStream> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 30_000);
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const read = async () => {
    if (res.status !== 200 || !res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const bytes of res.body) {
        buffer += decoder.decode(bytes as Uint8Array, { stream: true });
        for (let cut = buffer.indexOf('\n\n'); cut !== -1; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const e: SseEvent = { event: 'message', id: null, data: '' };
          let fields = 0;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const [, name, value] = /^([^:]+): ?(.*)$/.exec(line) ?? [];
            if (name === 'event') e.event = value;
            else if (name === 'id') e.id = value;
            else if (name === 'data') e.data += value;
            else continue;
            fields++;
          }
          if (fields > 0 && e.data !== '') {
            events.push(e);
            if ((await onEvent(e)) === true) {
              abort.abort();
              return;
            }
          }
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    done: read(),
    close: () => abort.abort(),
  };
}

function outputOf(events: SseEvent[]): { offset: number; data: string }[] {
  return events.filter((e) => e.event === 'output').map((e) => JSON.parse(e.data) as { offset: number; data: string });
}

function endOf(events: SseEvent[]): { status: string } | undefined {
  const end = events.find((e) => e.event === 'end');
  return end ? (JSON.parse(end.data) as { status: string }) : undefined;
}

/** How a FollowOutput call made directly to the executor ends: null, or its gRPC status and details. */
async function followError(
  client: ExecutorGrpcClient,
  runId: number,
): Promise<{ code: number; details: string } | null> {
  try {
    for await (const chunk of client.followOutput({ runId, offset: 0 }, new AbortController().signal)) void chunk;
    return null;
  } catch (e) {
    const { code, details } = e as { code: number; details: string };
    return { code, details };
  } finally {
    client.close();
  }
}

describe('live output of a run', () => {
  let executorAddress: string;
  let dispatcher: Dispatcher;
  let api: Api;
  let jobId: number;

  beforeAll(async () => {
    const env = await sqliteEnv('live-output');
    const executorPort = await freePort();
    dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'live-dispatcher',
    );
    executorAddress = (await startExecutor(env, 'live-executor', executorPort)).address;
    api = new Api(dispatcher.base);
    jobId = (
      await api.createJob({
        name: 'live-lines',
        cron: ONCE_A_YEAR,
        type: 'shell',
        command: COMMAND,
        secretEnv: { TOKEN: SECRET },
      })
    ).id;
  }, 120_000);

  afterAll(() => stopAllApps());

  const outputUrl = (runId: number | string, query = 'follow=true') =>
    `${dispatcher.base}/api/runs/${runId}/output?${query}`;

  it('streams the output while the run runs, then `end` with its status; a resume gets only what follows', async () => {
    const runId = await api.trigger(jobId);
    let statusAtFirstOutput: string | null = null;
    const stream = await openStream(outputUrl(runId), bearer(), async (e) => {
      if (e.event === 'output' && statusAtFirstOutput === null) statusAtFirstOutput = (await api.run(runId)).status;
    });
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    await stream.done;

    // Output came before the run was final.
    expect(statusAtFirstOutput).toBe('running');
    const pieces = outputOf(stream.events);
    expect(pieces.length).toBeGreaterThan(1);
    const text = pieces.map((p) => p.data).join('');
    expect(text).toBe(EXPECTED);
    // Offsets are contiguous byte offsets, and each id is where the next piece starts.
    let at = 0;
    for (const [i, p] of pieces.entries()) {
      expect(p.offset).toBe(at);
      at += Buffer.byteLength(p.data, 'utf8');
      expect(stream.events.filter((e) => e.event === 'output')[i].id).toBe(String(at));
    }
    expect(endOf(stream.events)).toEqual({ status: 'succeeded' });
    expect(stream.events.at(-1)?.event).toBe('end');
    for (const p of pieces) {
      expect(p.data).not.toContain(SECRET.slice(0, 8));
      expect(p.data).not.toContain(SECRET.slice(8));
    }
    expect(JSON.stringify(stream.events)).not.toContain(SECRET);

    const run = await api.run(runId);
    expect(run.status).toBe('succeeded');
    expect(run.output).toBe(text);

    // Resume after the first piece: only the bytes after it, then `end`.
    const firstId = stream.events.find((e) => e.event === 'output')!.id!;
    const resumed = await openStream(outputUrl(runId), { ...bearer(), 'last-event-id': firstId });
    await resumed.done;
    expect(
      outputOf(resumed.events)
        .map((p) => p.data)
        .join(''),
    ).toBe(Buffer.from(EXPECTED).subarray(Number(firstId)).toString());
    expect(outputOf(resumed.events)[0].offset).toBe(Number(firstId));
    expect(endOf(resumed.events)).toEqual({ status: 'succeeded' });
    // ?offset= does the same; Last-Event-ID wins over it.
    const byQuery = await openStream(outputUrl(runId, 'follow=true&offset=6'), {
      ...bearer(),
      'last-event-id': '12',
    });
    await byQuery.done;
    expect(outputOf(byQuery.events)[0]).toEqual({ offset: 12, data: EXPECTED.slice(12) });
  }, 60_000);

  it('resumes a live stream with Last-Event-ID while the run still runs', async () => {
    const runId = await api.trigger(jobId);
    let firstId: string | null = null;
    const first = await openStream(outputUrl(runId), bearer(), (e) => {
      if (e.event !== 'output') return false;
      firstId = e.id;
      return true;
    });
    await first.done;
    expect(firstId).not.toBeNull();
    const rest = await openStream(outputUrl(runId), { ...bearer(), 'last-event-id': firstId! });
    await rest.done;
    const head = outputOf(first.events)[0].data;
    expect(
      head +
        outputOf(rest.events)
          .map((p) => p.data)
          .join(''),
    ).toBe(EXPECTED);
    expect(endOf(rest.events)).toEqual({ status: 'succeeded' });
  }, 60_000);

  it('answers the recorded output as JSON without follow, and guards the route like the other run reads', async () => {
    const runId = (await api.runs(jobId)).find((r) => r.status === 'succeeded')!.id;
    const json = await api.call<Record<string, unknown>>('GET', `/api/runs/${runId}/output`, undefined, 200);
    expect(json.body).toEqual({ runId, status: 'succeeded', output: EXPECTED, outputTruncated: false });

    // A viewer may follow, with a token and with the session cookie a browser's EventSource sends.
    const user = (
      await api.call<{ id: number }>('POST', '/api/users', { username: 'live-viewer', role: 'viewer' }, 201)
    ).body;
    const token = (await api.call<{ token: string }>('POST', '/api/tokens', { name: 'live', userId: user.id }, 201))
      .body.token;
    const asViewer = await openStream(outputUrl(runId), bearer(token));
    await asViewer.done;
    expect(asViewer.status).toBe(200);
    expect(outputOf(asViewer.events)).toEqual([{ offset: 0, data: EXPECTED }]);
    expect(endOf(asViewer.events)).toEqual({ status: 'succeeded' });

    const login = await fetch(`${dispatcher.base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const withCookie = await openStream(outputUrl(runId), { cookie });
    await withCookie.done;
    expect(withCookie.status).toBe(200);
    expect(endOf(withCookie.events)).toEqual({ status: 'succeeded' });

    // No credential: 401; a bad id or offset: 400 naming it; an unknown run: 404. JSON errors, never a 500.
    const anonymous = await fetch(outputUrl(runId), { headers: { accept: 'text/event-stream' } });
    expect(anonymous.status).toBe(401);
    const badId = await fetch(outputUrl('abc'), { headers: bearer() });
    expect(badId.status).toBe(400);
    expect(JSON.stringify(await badId.json())).toContain('id must be a positive integer');
    const badResume = await fetch(outputUrl(runId), { headers: { ...bearer(), 'last-event-id': 'x1' } });
    expect(badResume.status).toBe(400);
    expect(JSON.stringify(await badResume.json())).toContain('Last-Event-ID');
    const badOffset = await fetch(outputUrl(runId, 'follow=true&offset=-1'), { headers: bearer() });
    expect(badOffset.status).toBe(400);
    expect(JSON.stringify(await badOffset.json())).toContain('offset');
    const unknown = await fetch(outputUrl(987654), { headers: bearer() });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/json/);

    // Swagger documents both answers and the resume header.
    const docs = (await api.call<OpenApi>('GET', '/api/docs-json', undefined, 200)).body;
    const op = docs.paths['/api/runs/{id}/output'].get;
    expect(Object.keys(op.responses['200'].content).sort()).toEqual(['application/json', 'text/event-stream']);
    expect(op.parameters.map((p) => p.name).sort()).toEqual(['Last-Event-ID', 'follow', 'id', 'offset']);
    expect(op.description).toContain('`end`');
  }, 60_000);

  it('refuses a 9th follower of a running run; FollowOutput wants the executor token like every call', async () => {
    // A credential may have 2 output streams of one run open: 8 followers take 4 tokens, the 9th a 5th.
    const tokens: string[] = [];
    for (let i = 0; i < 5; i++) {
      tokens.push((await api.call<{ token: string }>('POST', '/api/tokens', { name: `live-${i}` }, 201)).body.token);
    }
    const runId = await api.trigger(jobId);
    const followers: EventStream[] = [];
    const firstOutputs: Promise<void>[] = [];
    for (let i = 0; i < 8; i++) {
      let got!: () => void;
      firstOutputs.push(new Promise<void>((resolve) => (got = resolve)));
      const auth = bearer(tokens[i >> 1]);
      followers.push(await openStream(outputUrl(runId), auth, (e) => (e.event === 'output' ? got() : undefined)));
    }
    // A third stream of one run with the same credential is refused before it starts.
    const third = await fetch(outputUrl(runId), { headers: bearer(tokens[0]) });
    expect(third.status).toBe(429);
    // All 8 are attached on the executor once each has had output; the run still runs.
    await Promise.all(firstOutputs);
    const ninth = await openStream(outputUrl(runId), bearer(tokens[4]));
    await ninth.done;
    expect(ninth.events.map((e) => e.event)).toEqual(['unavailable']);
    expect(JSON.parse(ninth.events[0].data)).toEqual({
      message: `run ${runId} has 8 followers already (at most 8 at a time)`,
    });
    expect(await followError(executorClient(executorAddress, 'not-the-executor-token'), runId)).toMatchObject({
      code: status.UNAUTHENTICATED,
    });
    for (const f of followers) await f.done;
    for (const f of followers) {
      expect(
        outputOf(f.events)
          .map((p) => p.data)
          .join(''),
      ).toBe(EXPECTED);
      expect(endOf(f.events)).toEqual({ status: 'succeeded' });
    }
    // With the token: a bad run id is INVALID_ARGUMENT naming the field, a run it does not hold NOT_FOUND.
    expect(await followError(executorClient(executorAddress), 0)).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'run_id: must be a positive integer',
    });
    // A run that just ended is still readable for a grace (30 s); one it never held is NOT_FOUND.
    expect(await followError(executorClient(executorAddress), runId)).toBeNull();
    expect(await followError(executorClient(executorAddress), runId + 1000)).toEqual({
      code: status.NOT_FOUND,
      details: `run ${runId + 1000} is not running on executor live-executor`,
    });
  }, 60_000);

  it('streams past the 1 MiB a FollowOutput call may send as one stream (the dispatcher calls again)', async () => {
    const STEP = 128 * 1024;
    const STEPS = 12; // 1.5 MiB, paced so that a follower keeps up with the 256 KiB ring
    const big = await api.createJob({
      name: 'live-big',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: `for i in $(seq 1 ${STEPS}); do head -c ${STEP} /dev/zero | tr '\\0' x; sleep 0.2; done`,
    });
    const runId = await api.trigger(big.id);
    const stream = await openStream(outputUrl(runId), bearer());
    await stream.done;
    const pieces = outputOf(stream.events);
    let at = 0;
    let received = 0;
    for (const p of pieces) {
      // Contiguous, or (had the follower fallen behind the ring) a jump forward: never back, never overlapping.
      expect(p.offset).toBeGreaterThanOrEqual(at);
      expect(p.data).toMatch(/^x+$/);
      at = p.offset + p.data.length;
      received += p.data.length;
    }
    expect(at).toBe(STEP * STEPS);
    expect(received).toBeGreaterThan(1024 * 1024);
    expect(endOf(stream.events)).toEqual({ status: 'succeeded' });
    const recorded = await api.call<{ outputTruncated: boolean }>('GET', `/api/runs/${runId}`, undefined, 200);
    expect(recorded.body.outputTruncated).toBe(true);
  }, 60_000);
});
