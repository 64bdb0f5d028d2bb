// Jobs that depend on jobs (issue 15), the REST API end to end: a dispatcher as a real process on SQLite. Every refused
// body is a 400 whose message names the problem (the cycle, the missing parent, the bound), a parent can not be
// deleted without force (409 naming its children), and the graph, the new queries and fields are served and
// documented with their roles.
import { Api, Job, sqliteEnv, startDispatcher } from './support/gocron';
import { stopAllApps } from './support/processes';

const YEARLY = '0 0 1 1 *';

interface ErrorBody {
  statusCode: number;
  message: string | string[];
  error: string;
}

interface JobWithDeps extends Job {
  cron: string;
  dependsOn: { jobId: number; on: string }[];
  children: { jobId: number; name: string; on: string; enabled: boolean }[];
  nextRunAt: string | null;
}

interface OpenApi {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; 'x-gocron-access'?: string }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
}

describe('the dependency API', () => {
  let api: Api;

  beforeAll(async () => {
    const dispatcher = await startDispatcher(await sqliteEnv('dependencies-api'), 'deps-dispatcher');
    api = new Api(dispatcher.base);
  });

  afterAll(() => stopAllApps());

  /** The answer's status and message (joined when a list). */
  async function refused(method: string, path: string, body?: unknown): Promise<[number, string]> {
    const res = await api.call<ErrorBody>(method, path, body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body).toMatchObject({ statusCode: res.status });
    const { message } = res.body;
    return [res.status, Array.isArray(message) ? message.join('; ') : message];
  }

  const shell = (name: string, over: Record<string, unknown> = {}) => ({
    name,
    cron: YEARLY,
    type: 'shell',
    command: 'true',
    ...over,
  });

  it('creates jobs with parents and no cron, and answers their fields', async () => {
    const a = await api.createJob(shell('a'));
    const b = (await api.createJob(
      shell('b', { cron: '', dependsOn: [{ jobId: a.id, on: 'success' }], dependencyMode: 'any' }),
    )) as JobWithDeps;
    expect(b).toMatchObject({
      cron: '',
      nextRunAt: null,
      dependsOn: [{ jobId: a.id, on: 'success' }],
      dependencyMode: 'any',
      dependencyWindowMs: 3_600_000,
      children: [],
    });
    const parent = (await api.call<JobWithDeps>('GET', `/api/jobs/${a.id}`, undefined, 200)).body;
    expect(parent).toMatchObject({
      dependsOn: [],
      children: [{ jobId: b.id, name: 'b', on: 'success', enabled: true }],
    });
    const graph = (
      await api.call<{ nodes: { id: number; level: number }[] }>('GET', `/api/jobs/${b.id}/graph`, undefined, 200)
    ).body;
    expect(graph.nodes.map((n) => [n.id, n.level])).toEqual([
      [a.id, -1],
      [b.id, 0],
    ]);
    expect((await api.call('GET', '/api/jobs/987654321/graph')).status).toBe(404);
  });

  it('answers every refused dependency edit with a 400 naming the problem', async () => {
    const x = await api.createJob(shell('x'));
    const y = await api.createJob(shell('y', { dependsOn: [{ jobId: x.id, on: 'always' }] }));
    const z = await api.createJob(shell('z', { dependsOn: [{ jobId: y.id, on: 'failure' }] }));

    expect(await refused('PATCH', `/api/jobs/${x.id}`, { dependsOn: [{ jobId: z.id, on: 'success' }] })).toEqual([
      400,
      `dependsOn: cycle job ${z.id} (z) → job ${x.id} (x) → job ${y.id} (y) → job ${z.id} (z)`,
    ]);
    expect(await refused('PATCH', `/api/jobs/${x.id}`, { dependsOn: [{ jobId: x.id, on: 'success' }] })).toEqual([
      400,
      `dependsOn: job ${x.id} can not depend on itself`,
    ]);
    expect(
      await refused('POST', '/api/jobs', shell('missing', { dependsOn: [{ jobId: 55555, on: 'success' }] })),
    ).toEqual([400, 'dependsOn: no job 55555 (a parent must exist)']);
    expect(await refused('POST', '/api/jobs', shell('neither', { cron: '' }))).toEqual([
      400,
      'a job needs a cron expression or dependsOn',
    ]);
    const many = Array.from({ length: 101 }, (_, i) => ({ jobId: i + 1, on: 'success' }));
    expect(await refused('POST', '/api/jobs', shell('many', { dependsOn: many }))).toEqual([
      400,
      'dependsOn: at most 100 parents',
    ]);
    const twice = [
      { jobId: x.id, on: 'success' },
      { jobId: x.id, on: 'failure' },
    ];
    expect(await refused('POST', '/api/jobs', shell('twice', { dependsOn: twice }))).toEqual([
      400,
      `dependsOn: job ${x.id} is named twice`,
    ]);
    const [status, message] = await refused(
      'POST',
      '/api/jobs',
      shell('typed', { dependsOn: [{ jobId: 'x', on: 'maybe' }] }),
    );
    expect(status).toBe(400);
    expect(message).toMatch(/dependsOn\.0\.jobId must be an integer/);
    expect(message).toMatch(/dependsOn\.0\.on must be one of the following values: success, failure, always/);
    expect((await refused('PATCH', `/api/jobs/${z.id}`, { dependencyWindowMs: 10 ** 12 }))[1]).toMatch(
      /^dependencyWindowMs must not be greater than 604800000/,
    );
    // Nothing refused was stored.
    expect((await api.call<JobWithDeps>('GET', `/api/jobs/${x.id}`, undefined, 200)).body.dependsOn).toEqual([]);
  });

  it('refuses to delete a parent (409 naming its children) unless force=true, which detaches and pauses', async () => {
    const p = await api.createJob(shell('del-parent'));
    const child = await api.createJob(shell('del-child', { cron: '', dependsOn: [{ jobId: p.id, on: 'success' }] }));
    const [status, message] = await refused('DELETE', `/api/jobs/${p.id}`);
    expect(status).toBe(409);
    expect(message).toMatch(new RegExp(`^job ${p.id} is a parent of job ${child.id} \\(del-child\\)`));
    expect(await refused('DELETE', `/api/jobs/${p.id}?force=yes`)).toEqual([400, 'force must be true or false']);
    await api.call('DELETE', `/api/jobs/${p.id}?force=true`, undefined, 204);
    expect((await api.call('GET', `/api/jobs/${p.id}`)).status).toBe(404);
    const detached = (await api.call<JobWithDeps>('GET', `/api/jobs/${child.id}`, undefined, 200)).body;
    expect(detached).toMatchObject({ enabled: false, dependsOn: [], cron: '' });
  });

  it('takes cascade on a manual trigger as a boolean', async () => {
    const job = await api.createJob(shell('trigger-me'));
    expect(await refused('POST', `/api/jobs/${job.id}/trigger?cascade=1`)).toEqual([
      400,
      'cascade must be true or false',
    ]);
    for (const q of ['', '?cascade=false', '?cascade=true']) {
      const res = await api.call<{ runId: number }>('POST', `/api/jobs/${job.id}/trigger${q}`, undefined, 202);
      const run = await api.call<{ trigger: string; parentRunIds: number[] }>(
        'GET',
        `/api/runs/${res.body.runId}`,
        undefined,
        200,
      );
      expect(run.body).toMatchObject({ trigger: 'manual', parentRunIds: [], upstream: [], downstream: [] });
    }
    // The audit log tells a cascade trigger from a plain one.
    const audit = await api.call<{ items: { action: string; jobId: number; detail: string | null }[] }>(
      'GET',
      `/api/audit?jobId=${job.id}&action=job.triggered`,
      undefined,
      200,
    );
    expect(audit.body.items.map((e) => e.detail)).toEqual([
      'cascade=true: its finish starts its children',
      null,
      null,
    ]);
  });

  it('documents the new endpoint, queries and fields, each route with its role', async () => {
    const doc = (await api.call<OpenApi>('GET', '/api/docs-json', undefined, 200)).body;
    expect(doc.paths['/api/jobs/{id}/graph'].get['x-gocron-access']).toBe('viewer');
    expect(doc.paths['/api/jobs/{id}'].delete['x-gocron-access']).toBe('admin');
    expect(doc.paths['/api/jobs/{id}'].delete.parameters?.map((p) => p.name)).toContain('force');
    expect(doc.paths['/api/jobs/{id}/trigger'].post.parameters?.map((p) => p.name)).toContain('cascade');
    const schemas = doc.components.schemas;
    for (const field of ['dependsOn', 'dependencyMode', 'dependencyWindowMs']) {
      expect(Object.keys(schemas.CreateJobDto.properties ?? {})).toContain(field);
    }
    for (const field of ['dependsOn', 'dependencyMode', 'dependencyWindowMs', 'children']) {
      expect(Object.keys(schemas.JobResponse.properties ?? {})).toContain(field);
    }
    expect(Object.keys(schemas.RunResponse.properties ?? {})).toContain('parentRunIds');
    expect(Object.keys(schemas.RunDetailResponse.properties ?? {})).toEqual(
      expect.arrayContaining(['upstream', 'downstream', 'parentRunIds']),
    );
    expect(Object.keys(schemas.JobGraphResponse.properties ?? {})).toEqual(['jobId', 'nodes', 'edges', 'truncated']);
  });
});
