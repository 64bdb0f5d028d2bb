import { SecretBox } from '@app/common';
import { openSecrets, PlainSecrets } from '@app/persistence';
import { changedSecrets, checkNoOverlap, withCredentialHeadersMoved } from './secret-changes';

const box = new SecretBox(Buffer.alloc(32, 3));
const opened = (jobId: number, secrets: ReturnType<typeof changedSecrets>) =>
  openSecrets(box, { id: jobId, secrets }) as PlainSecrets;

describe('changedSecrets (create and PATCH semantics)', () => {
  const stored = changedSecrets(box, 5, null, {
    env: { A: 'alpha-1', B: 'beta-22' },
    headers: { Authorization: 'x-1234' },
  });

  it('seals every value, bound to the job', () => {
    expect(JSON.stringify(stored)).not.toMatch(/alpha|beta|x-1234/);
    expect(opened(5, stored)).toEqual({ env: { A: 'alpha-1', B: 'beta-22' }, headers: { Authorization: 'x-1234' } });
    expect(openSecrets(box, { id: 6, secrets: stored })).toEqual({
      problem: expect.stringMatching(/^job 6's secretEnv\.A does not open/) as unknown,
    });
  });

  it('"***" keeps the stored value, a new value replaces it, a name left out is removed', () => {
    const next = changedSecrets(box, 5, stored, { env: { A: '***', C: 'gamma-3' } });
    expect(next?.env?.A).toBe(stored?.env?.A); // the very sealed value: nothing re-encrypted
    expect(opened(5, next)).toEqual({ env: { A: 'alpha-1', C: 'gamma-3' }, headers: { Authorization: 'x-1234' } });
    const replaced = changedSecrets(box, 5, stored, { env: { A: 'other-1', B: '***' } });
    expect(opened(5, replaced).env).toEqual({ A: 'other-1', B: 'beta-22' });
  });

  it('a kind left out is kept, null clears it, and nothing left is null', () => {
    expect(changedSecrets(box, 5, stored, {})).toEqual(stored);
    expect(opened(5, changedSecrets(box, 5, stored, { headers: null }))).toEqual({
      env: { A: 'alpha-1', B: 'beta-22' },
      headers: {},
    });
    expect(changedSecrets(box, 5, stored, { env: null, headers: {} })).toBeNull();
  });

  it('refuses "***" for a name that has no stored value, naming it', () => {
    expect(() => changedSecrets(box, 5, stored, { env: { NEW: '***' } })).toThrow(
      'secretEnv.NEW is "***" (keep the stored value), but the job has no such secret',
    );
    expect(() => changedSecrets(box, 5, null, { headers: { Cookie: '***' } })).toThrow(/http\.secretHeaders\.Cookie/);
  });
});

describe('checkNoOverlap', () => {
  it('refuses a name both plain and secret, headers case-insensitively, naming it', () => {
    expect(() => checkNoOverlap({ A: '1' }, {}, { env: { A: 's' } })).toThrow('A is in both env and secretEnv');
    expect(() => checkNoOverlap({}, { authorization: 'x' }, { headers: { Authorization: 's' } })).toThrow(
      /Authorization is in both http.headers and http.secretHeaders/,
    );
    expect(() => checkNoOverlap({}, {}, { headers: { Cookie: 's', cookie: 't' } })).toThrow(/names cookie twice/);
    expect(() => checkNoOverlap({ A: '1' }, { X: 'y' }, { env: { B: 's' }, headers: { Y: 's' } })).not.toThrow();
  });
});

describe('withCredentialHeadersMoved', () => {
  it('moves credential headers of any case into secretHeaders, keeping stored ones when the change names none', () => {
    const dto = { name: 'x', http: { headers: { authorization: 'Bearer a', 'X-Api-Key': 'k', Accept: 'json' } } };
    expect(withCredentialHeadersMoved(dto, ['Cookie'])).toEqual({
      name: 'x',
      http: {
        headers: { Accept: 'json' },
        secretHeaders: { Cookie: '***', authorization: 'Bearer a', 'X-Api-Key': 'k' },
      },
    });
    const given = { http: { headers: { Cookie: 'c=1' }, secretHeaders: { Other: 'o' } } };
    expect(withCredentialHeadersMoved(given, [])).toEqual({
      http: { headers: {}, secretHeaders: { Other: 'o', Cookie: 'c=1' } },
    });
    // Given both ways in one change: left for the overlap check to refuse.
    const both = { http: { headers: { Cookie: 'c=1' }, secretHeaders: { COOKIE: 'c=2' } } };
    expect(withCredentialHeadersMoved(both, [])).toBe(both);
    const none = { http: { headers: { Accept: 'json' } } };
    expect(withCredentialHeadersMoved(none, ['Cookie'])).toBe(none);
  });
});
