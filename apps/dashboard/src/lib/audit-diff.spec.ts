import { changesOf, compactJson } from './audit-diff';

describe('audit changes', () => {
  it('lists only the fields an update changed, nested ones by path', () => {
    const before = { name: 'nightly', cron: '0 9 * * *', http: { url: 'https://a', method: 'GET' }, retries: 1 };
    const after = { name: 'nightly', cron: '0 10 * * *', http: { url: 'https://b', method: 'GET' }, retries: 1 };
    expect(changesOf(before, after)).toEqual([
      { path: 'cron', kind: 'changed', before: '0 9 * * *', after: '0 10 * * *' },
      { path: 'http.url', kind: 'changed', before: 'https://a', after: 'https://b' },
    ]);
  });

  it('compares arrays as whole values', () => {
    expect(changesOf({ expectStatus: [200] }, { expectStatus: [200, 204] })).toEqual([
      { path: 'expectStatus', kind: 'changed', before: [200], after: [200, 204] },
    ]);
    expect(changesOf({ expectStatus: [200] }, { expectStatus: [200] })).toEqual([]);
  });

  it('lists everything as added on a creation and as removed on a deletion', () => {
    expect(changesOf(null, { username: 'alice', role: 'viewer' })).toEqual([
      { path: 'username', kind: 'added', after: 'alice' },
      { path: 'role', kind: 'added', after: 'viewer' },
    ]);
    expect(changesOf({ name: 'tmp' }, null)).toEqual([{ path: 'name', kind: 'removed', before: 'tmp' }]);
    expect(changesOf(null, null)).toEqual([]);
  });

  it('tells a field set to null from a field removed', () => {
    expect(changesOf({ a: 1, b: 2 }, { a: null })).toEqual([
      { path: 'a', kind: 'changed', before: 1, after: null },
      { path: 'b', kind: 'removed', before: 2 },
    ]);
  });
});

describe('compactJson', () => {
  it('writes JSON and cuts long values', () => {
    expect(compactJson('x')).toBe('"x"');
    expect(compactJson({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(compactJson('a'.repeat(100), 10)).toBe('"aaaaaaaa…');
    expect(compactJson(undefined)).toBe('—');
  });
});
