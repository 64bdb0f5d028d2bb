import { cookieValue, retryAfterSeconds, retryMessage } from './http-headers';

describe('cookieValue', () => {
  it('finds a cookie among others, decoded', () => {
    expect(cookieValue('a=1; gocron_csrf=abc%2Bdef; b=2', 'gocron_csrf')).toBe('abc+def');
    expect(cookieValue('gocron_csrf=x', 'gocron_csrf')).toBe('x');
  });

  it('is null when absent, and does not match a longer name', () => {
    expect(cookieValue('', 'gocron_csrf')).toBeNull();
    expect(cookieValue('xgocron_csrf=1; gocron_csrf_old=2', 'gocron_csrf')).toBeNull();
  });

  it('keeps a value that is not valid percent-encoding as it is', () => {
    expect(cookieValue('gocron_csrf=100%', 'gocron_csrf')).toBe('100%');
  });
});

describe('retryAfterSeconds', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');

  it('reads seconds and HTTP dates', () => {
    expect(retryAfterSeconds('120', now)).toBe(120);
    expect(retryAfterSeconds(' 0 ', now)).toBe(0);
    expect(retryAfterSeconds('Wed, 02 Dec 2026 10:01:30 GMT', now)).toBe(90);
    expect(retryAfterSeconds('Wed, 02 Dec 2026 09:00:00 GMT', now)).toBe(0);
  });

  it('is null when absent or unreadable', () => {
    expect(retryAfterSeconds(null, now)).toBeNull();
    expect(retryAfterSeconds('soon', now)).toBeNull();
  });
});

describe('retryMessage', () => {
  it("replaces the server's wait with the seconds left", () => {
    const m = 'too many failed sign-ins from this address or for this user: try again in 840 s';
    expect(retryMessage(m, 839)).toBe(
      'too many failed sign-ins from this address or for this user: try again in 839 s',
    );
    expect(retryMessage('too many requests: at most 100 per 1 s; try again in 1 s', 1)).toBe(
      'too many requests: at most 100 per 1 s: try again in 1 s',
    );
  });

  it('adds the wait to a message without one, and says when it is over', () => {
    expect(retryMessage('Too Many Requests', 5)).toBe('Too Many Requests: try again in 5 s');
    expect(retryMessage('slow down: try again in 3 s', 0)).toBe('slow down; you can try again now');
    expect(retryMessage('', 2)).toBe('Too many attempts: try again in 2 s');
  });
});
