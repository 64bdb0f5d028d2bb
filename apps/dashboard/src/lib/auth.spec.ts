import { atLeast, returnPath } from './auth';

describe('roles', () => {
  it.each([
    ['viewer', 'viewer', true],
    ['viewer', 'operator', false],
    ['operator', 'operator', true],
    ['operator', 'admin', false],
    ['admin', 'operator', true],
    ['admin', 'admin', true],
    [null, 'viewer', false],
  ] as const)('%s may do what %s may: %s', (role, need, expected) => {
    expect(atLeast(role, need)).toBe(expected);
  });
});

describe('the route to return to after signing in', () => {
  it.each([
    ['/jobs/3', '/jobs/3'],
    ['/runs?status=failed&job=2', '/runs?status=failed&job=2'],
    [null, '/jobs'],
    ['', '/jobs'],
    ['/login', '/jobs'],
    ['/login?next=/runs', '/jobs'],
    ['/logins', '/logins'],
    ['//evil.example', '/jobs'],
    ['https://evil.example/', '/jobs'],
  ])('%j → %s', (next, expected) => {
    expect(returnPath(next)).toBe(expected);
  });
});
