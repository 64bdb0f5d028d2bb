import { deathReason, encodeMessage, parseMessage } from './broker-message';
import { isBrokerGroup, queueOptions } from './broker-names';
import { maskBrokerText, maskBrokerUrl } from './broker-url';

describe('broker messages', () => {
  it('round-trip a run and a cancel, and carry nothing else', () => {
    const run = { kind: 'run' as const, runId: 7, jobId: 3, tickKey: 's:1795608000', attempt: 2 };
    expect(parseMessage(encodeMessage(run))).toEqual(run);
    expect(JSON.parse(encodeMessage(run).toString())).toEqual({ v: 1, ...run });
    expect(parseMessage(encodeMessage({ kind: 'cancel', runId: 7, reason: 'x'.repeat(900) }))).toEqual({
      kind: 'cancel',
      runId: 7,
      reason: 'x'.repeat(500),
    });
  });

  it.each([
    ['not json {', 'message is not JSON'],
    ['[1]', 'message is not an object'],
    ['{"v":2,"kind":"run"}', 'unknown message version 2'],
    ['{"v":1,"kind":"run","runId":-1}', 'runId: must be a positive integer'],
    ['{"v":1,"kind":"exec","runId":1}', 'unknown message kind "exec"'],
    [
      '{"v":1,"kind":"run","runId":1,"jobId":1.5,"attempt":0,"tickKey":""}',
      'jobId: must be a positive integer; attempt: must be a positive integer; tickKey: must be a string of 1 to 64 characters',
    ],
  ])('refuse %s with a reason', (body, problem) => {
    expect(parseMessage(Buffer.from(body))).toEqual({ problem });
  });

  it('refuse an oversized message before parsing it', () => {
    expect(parseMessage(Buffer.alloc(5000, 32))).toEqual({ problem: 'message of 5000 bytes (at most 4096)' });
  });

  it("read the first x-death's reason and queue", () => {
    expect(deathReason({ 'x-death': [{ reason: 'expired', queue: 'g.runs.a' }] })).toEqual({
      reason: 'expired',
      queue: 'g.runs.a',
    });
    expect(deathReason(undefined)).toEqual({ reason: 'other', queue: '?' });
    expect(deathReason({ 'x-first-death-reason': 'delivery_limit', 'x-first-death-queue': 'q' })).toEqual({
      reason: 'delivery_limit',
      queue: 'q',
    });
  });

  it('map a forged reason to other and cut a long queue name (a metric label, a run error)', () => {
    const forged = deathReason({ 'x-death': [{ reason: `x${'y'.repeat(100_000)}`, queue: 'q'.repeat(100_000) }] });
    expect(forged).toEqual({ reason: 'other', queue: 'q'.repeat(100) });
    expect(deathReason({ 'x-death': [{ reason: 'toString', queue: 'q' }] }).reason).toBe('other');
  });
});

describe('queue arguments', () => {
  it('expire an unused control queue after 30 min, never a runs queue', () => {
    expect(queueOptions('p', 'exec').arguments).toMatchObject({ 'x-expires': 30 * 60_000, 'x-queue-type': 'quorum' });
    expect(queueOptions('p', 'runs').arguments).not.toHaveProperty('x-expires');
  });
});

describe('broker groups and URLs', () => {
  it('route a group through the broker when named or *, never without a url', () => {
    expect(isBrokerGroup({ url: 'amqp://h', groups: ['*'], prefix: 'p' }, 'any')).toBe(true);
    expect(isBrokerGroup({ url: 'amqp://h', groups: ['a'], prefix: 'p' }, 'b')).toBe(false);
    expect(isBrokerGroup({ url: '', groups: ['*'], prefix: 'p' }, 'a')).toBe(false);
  });

  it('never show the password', () => {
    const url = 'amqp://gocron:s3cr%40t@10.0.0.5:5672/prod';
    expect(maskBrokerUrl(url)).toBe('amqp://gocron:***@10.0.0.5:5672/prod');
    expect(maskBrokerUrl('amqp://127.0.0.1')).toBe('amqp://127.0.0.1');
    expect(maskBrokerText(`connect to ${url} failed: s3cr@t refused`, url)).toBe(
      'connect to amqp://gocron:***@10.0.0.5:5672/prod failed: *** refused',
    );
  });
});
