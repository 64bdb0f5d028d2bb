import type { NotifyConfig } from '@app/config';
import { DomainError } from '../common/domain-error';
import {
  changedNotify,
  effectiveNotify,
  maskAddress,
  maskedNotify,
  maskedTarget,
  maskNotifyUrl,
} from './notify-settings';

const DEFAULTS: NotifyConfig = {
  on: ['failed', 'missed'],
  webhookUrl: 'https://global.example/hook',
  webhookSecret: 's',
  slackUrl: '',
  smtpUrl: 'smtp://u:p@127.0.0.1:25',
  mailFrom: 'gocron@example.com',
  mailTo: ['ops@example.com'],
  minIntervalSeconds: 300,
};

describe('masking', () => {
  it('shows a URL as scheme, host and port only', () => {
    expect(maskNotifyUrl('https://u:pw@hooks.slack.com/services/T/B/X?a=1#f')).toBe('https://hooks.slack.com/***');
    expect(maskNotifyUrl('http://[::1]:8080/x')).toBe('http://[::1]:8080/***');
    expect(maskNotifyUrl('not a url')).toBe('***');
  });

  it('masks the URLs of a job notify and keeps the rest', () => {
    expect(
      maskedNotify({
        on: ['failed'],
        webhook: 'https://h.example/secret',
        slack: 'https://s.example/T/B/X',
        email: ['a@b.c'],
      }),
    ).toEqual({ on: ['failed'], webhook: 'https://h.example/***', slack: 'https://s.example/***', email: ['a@b.c'] });
    expect(maskedNotify(null)).toBeNull();
    expect(maskedNotify({ on: [] })).toEqual({ on: [] });
  });

  it('shows list targets masked', () => {
    expect(maskAddress('ops@example.com')).toBe('o***@example.com');
    expect(maskedTarget('email', '["ops@example.com","b@x.org"]')).toBe('o***@example.com, b***@x.org');
    expect(maskedTarget('slack', 'https://hooks.slack.com/services/T/B/X')).toBe('https://hooks.slack.com/***');
    expect(maskedTarget('email', 'garbage')).toBe('***');
  });
});

describe('changedNotify (keep-on-PATCH)', () => {
  const stored = { on: ['failed' as const], webhook: 'https://h.example/T0KEN', slack: 'https://s.example/T/B/X' };

  it('keeps a stored URL for "***" or for the masked value as read', () => {
    expect(changedNotify(stored, { on: ['lost'], webhook: '***', slack: 'https://s.example/***' })).toEqual({
      on: ['lost'],
      webhook: 'https://h.example/T0KEN',
      slack: 'https://s.example/T/B/X',
    });
  });

  it('replaces with a new URL, drops a field left out, keeps or removes the whole with undefined or null', () => {
    expect(changedNotify(stored, { on: ['failed'], webhook: 'https://new.example/x' })).toEqual({
      on: ['failed'],
      webhook: 'https://new.example/x',
    });
    expect(changedNotify(stored, undefined)).toBeUndefined();
    expect(changedNotify(stored, null)).toBeNull();
  });

  it('refuses a masked value with nothing to keep, naming the field and no URL', () => {
    const attempt = (given: Parameters<typeof changedNotify>[1], from: Parameters<typeof changedNotify>[0]) => {
      try {
        changedNotify(from, given);
      } catch (e) {
        expect(e).toBeInstanceOf(DomainError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(attempt({ on: [], slack: '***' }, null)).toMatch(/^notify\.slack is masked/);
    // The masked form of another host's URL is not the stored one's.
    const other = attempt({ on: [], webhook: 'https://elsewhere.example/***' }, stored);
    expect(other).toMatch(/^notify\.webhook looks masked/);
    expect(other).not.toMatch(/example|T0KEN/);
  });
});

describe('effectiveNotify', () => {
  it('is [notify] for a job without its own', () => {
    const e = effectiveNotify(null, DEFAULTS);
    expect([...e.on]).toEqual(['failed', 'missed']);
    expect(e.targets).toEqual([
      { channel: 'webhook', target: 'https://global.example/hook' },
      { channel: 'email', target: '["ops@example.com"]' },
    ]);
  });

  it("takes each field the job gives and [notify]'s for the others", () => {
    const e = effectiveNotify(
      { on: ['succeeded'], slack: 'https://s.example/x', email: ['dev@example.com'] },
      DEFAULTS,
    );
    expect([...e.on]).toEqual(['succeeded']);
    expect(e.targets).toEqual([
      { channel: 'webhook', target: 'https://global.example/hook' },
      { channel: 'slack', target: 'https://s.example/x' },
      { channel: 'email', target: '["dev@example.com"]' },
    ]);
  });

  it('sends no email without smtp_url, and nothing for on: []', () => {
    const noSmtp = effectiveNotify({ on: ['failed'], email: ['dev@example.com'] }, { ...DEFAULTS, smtpUrl: '' });
    expect(noSmtp.targets.map((t) => t.channel)).toEqual(['webhook']);
    expect(effectiveNotify({ on: [] }, DEFAULTS).on.size).toBe(0);
  });
});
