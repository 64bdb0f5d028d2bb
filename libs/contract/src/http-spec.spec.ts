import { httpSpecWithDefaults } from './http-spec';

describe('httpSpecWithDefaults', () => {
  it('fills no headers, an empty body and any 2xx when they are missing or null', () => {
    expect(httpSpecWithDefaults({ method: 'GET', url: 'http://x/' })).toEqual({
      method: 'GET',
      url: 'http://x/',
      headers: {},
      body: '',
      expectStatus: [],
    });
    expect(
      httpSpecWithDefaults({ method: 'GET', url: 'http://x/', headers: null, body: null, expectStatus: null }),
    ).toEqual({ method: 'GET', url: 'http://x/', headers: {}, body: '', expectStatus: [] });
  });

  it('keeps what is given, empty values included', () => {
    const headers = { Authorization: 'Bearer t' };
    const expectStatus = [200, 204];
    const spec = httpSpecWithDefaults({ method: 'POST', url: 'http://x/hook', headers, body: '{}', expectStatus });
    expect(spec).toEqual({ method: 'POST', url: 'http://x/hook', headers, body: '{}', expectStatus });
    expect(spec.headers).toBe(headers);
    expect(spec.expectStatus).toBe(expectStatus);
    expect(httpSpecWithDefaults({ method: 'GET', url: 'http://x/', body: '' }).body).toBe('');
  });

  it('keeps no other field, in the order the stored JSON has always had', () => {
    const input = { method: 'PUT', url: 'http://x/', extra: 1, expectStatus: [201], body: 'b', headers: {} };
    expect(JSON.stringify(httpSpecWithDefaults(input))).toBe(
      '{"method":"PUT","url":"http://x/","headers":{},"body":"b","expectStatus":[201]}',
    );
  });

  it('gives each task its own defaults, so changing one changes no other', () => {
    const a = httpSpecWithDefaults({ method: 'GET', url: 'http://a/' });
    const b = httpSpecWithDefaults({ method: 'GET', url: 'http://b/' });
    a.headers.X = '1';
    a.expectStatus.push(200);
    expect(b.headers).toEqual({});
    expect(b.expectStatus).toEqual([]);
  });
});
