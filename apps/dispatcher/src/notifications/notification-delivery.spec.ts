import { createHmac } from 'node:crypto';
import { scrub } from './channel-senders';
import { Delivery, signature, summary, webhookBody } from './notification-body';
import { MAX_ATTEMPTS, RETRY_BASE_MS, RETRY_MAX_MS, retryDelay } from './notification-deliverer';

const DELIVERY: Delivery = {
  deliveryId: '6f1c1a8e-2b7e-4f5e-9c1a-0a1b2c3d4e5f',
  folded: 2,
  target: 'https://hooks.example.com/x',
  facts: {
    event: 'failed',
    job: { id: 7, name: 'nightly', group: 'batch' },
    run: {
      id: 41,
      status: 'failed',
      scheduledAt: '2026-11-25T02:00:00.000Z',
      attempt: 3,
      exitCode: 2,
      httpStatus: null,
      error: 'exit status 2',
      durationMs: 1234,
    },
  },
};

describe('back-off', () => {
  it('doubles from the base, capped, with jitter in [½, 1½)', () => {
    expect(retryDelay(1, 0.5)).toBe(RETRY_BASE_MS);
    expect(retryDelay(2, 0.5)).toBe(RETRY_BASE_MS * 2);
    expect(retryDelay(4, 0.5)).toBe(RETRY_BASE_MS * 8);
    expect(retryDelay(1, 0)).toBe(RETRY_BASE_MS / 2);
    expect(retryDelay(1, 0.999_99)).toBeLessThan(RETRY_BASE_MS * 1.5);
    expect(retryDelay(30, 0.5)).toBe(RETRY_MAX_MS);
  });

  it('gives up within about 21 minutes of retrying (nominal)', () => {
    let total = 0;
    for (let a = 1; a < MAX_ATTEMPTS; a++) total += retryDelay(a, 0.5);
    expect(MAX_ATTEMPTS).toBe(8);
    expect(total).toBe(1_270_000);
  });
});

describe('the webhook body and signature', () => {
  it('is the documented shape', () => {
    expect(webhookBody(DELIVERY, 'disp-1', Date.parse('2026-11-25T02:00:05Z'))).toEqual({
      deliveryId: DELIVERY.deliveryId,
      event: 'failed',
      job: { id: 7, name: 'nightly', group: 'batch' },
      run: DELIVERY.facts.run,
      folded: 2,
      dispatcherId: 'disp-1',
      at: '2026-11-25T02:00:05.000Z',
    });
  });

  it('signs the raw body with HMAC-SHA256 in hex', () => {
    const raw = JSON.stringify({ a: 1 });
    expect(signature('s3cret', raw)).toBe(`sha256=${createHmac('sha256', 's3cret').update(raw).digest('hex')}`);
    // A known vector (RFC 4231, test case 2): "what do ya want for nothing?" under "Jefe".
    expect(signature('Jefe', 'what do ya want for nothing?')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(signature('other', raw)).not.toBe(signature('s3cret', raw));
  });

  it('summarizes for Slack and email, with the folded count', () => {
    const text = summary(DELIVERY);
    expect(text).toContain('job nightly (#7, group batch) failed');
    expect(text).toContain('exit code 2');
    expect(text).toContain('(+2 more failed events');
  });
});

describe('scrub', () => {
  it('takes every part of a URL out of an error', () => {
    const url = 'https://user:pw@hooks.example.com/services/T0KEN?sig=abc';
    expect(scrub('getaddrinfo ENOTFOUND hooks.example.com', url)).toBe('getaddrinfo ENOTFOUND ***');
    expect(scrub(`failed for ${url}`, url)).toBe('failed for ***');
    expect(scrub('path /services/T0KEN?sig=abc refused', url)).not.toMatch(/T0KEN|sig=/);
  });
});
