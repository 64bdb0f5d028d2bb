import { MASK, maskJob } from './audit-log.service';

const job = () => ({
  id: 7,
  name: 'backup',
  command: 'pg_dump -h db',
  env: { PATH: '/usr/bin', DB_PASSWORD: 'hunter2', API_TOKEN: 't', AWS_SECRET_ACCESS_KEY: 's', MODE: 'full' },
  http: {
    method: 'POST',
    url: 'https://hooks.example.com/x',
    headers: {
      Authorization: 'Bearer abc',
      'proxy-authorization': 'Basic xyz',
      Cookie: 'sid=1',
      'X-API-Key': 'k',
      'Content-Type': 'application/json',
      Accept: '*/*',
    },
    body: '{"a":1}',
    expectStatus: [200],
  },
});

describe('maskJob', () => {
  it('masks credential headers and env variables named like secrets, and nothing else', () => {
    expect(maskJob(job())).toEqual({
      id: 7,
      name: 'backup',
      command: 'pg_dump -h db',
      env: { PATH: '/usr/bin', DB_PASSWORD: MASK, API_TOKEN: MASK, AWS_SECRET_ACCESS_KEY: MASK, MODE: 'full' },
      http: {
        method: 'POST',
        url: 'https://hooks.example.com/x',
        headers: {
          Authorization: MASK,
          'proxy-authorization': MASK,
          Cookie: MASK,
          'X-API-Key': MASK,
          'Content-Type': 'application/json',
          Accept: '*/*',
        },
        body: '{"a":1}',
        expectStatus: [200],
      },
    });
  });

  it('masks every value of secretEnv and http.secretHeaders when present, keeping their names', () => {
    const masked = maskJob({
      ...job(),
      secretEnv: { PGPASS: 'p', PLAIN_NAME: 'v' },
      http: { ...job().http, secretHeaders: { 'X-Signature': 'sig' } },
    }) as { secretEnv: unknown; http: { secretHeaders: unknown } };
    expect(masked.secretEnv).toEqual({ PGPASS: MASK, PLAIN_NAME: MASK });
    expect(masked.http.secretHeaders).toEqual({ 'X-Signature': MASK });
  });

  it('leaves the job it was given as it was', () => {
    const original = job();
    const copy = structuredClone(original);
    maskJob(original);
    expect(original).toEqual(copy);
  });

  it('passes through what is not a job object, and jobs without env or http', () => {
    for (const v of [null, undefined, 'text', 42, true]) expect(maskJob(v)).toBe(v);
    expect(maskJob({ id: 1, env: null, http: null })).toEqual({ id: 1, env: null, http: null });
    expect(maskJob({ id: 1 })).toEqual({ id: 1 });
  });
});
