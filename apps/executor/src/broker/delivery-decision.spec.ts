import { afterStart, decideDelivery, RunRow } from './delivery-decision';

const NOW = Date.UTC(2026, 11, 1);
const row = (over: Partial<RunRow> = {}): RunRow => ({
  id: 5,
  jobId: 2,
  tickKey: 's:1',
  attempt: 1,
  executorKey: '',
  scheduledAt: NOW - 10,
  status: 'pending',
  notBefore: NOW - 10,
  deadlineAt: NOW + 60_000,
  ...over,
});
const msg = { kind: 'run' as const, runId: 5, jobId: 2, tickKey: 's:1', attempt: 1 };
const self = { address: '10.0.0.1:50051', from: 'runs' as const };

describe('decideDelivery', () => {
  it('starts a due pending run under the row key, not the message', () => {
    expect(decideDelivery(msg, row(), self, NOW)).toEqual({
      kind: 'start',
      key: { id: 5, jobId: 2, tickKey: 's:1', attempt: 1, executorKey: '', scheduledAt: NOW - 10 },
    });
  });

  it('dead-letters what names no run', () => {
    expect(decideDelivery({ problem: 'message is not JSON' }, undefined, self, NOW)).toEqual({
      kind: 'dead',
      why: 'message is not JSON',
    });
    expect(decideDelivery(msg, undefined, self, NOW).kind).toBe('dead');
  });

  it('drops a redelivery of a run started or ended elsewhere, another key, another executor, a run not due', () => {
    for (const status of ['running', 'succeeded', 'failed', 'lost'] as const) {
      expect(decideDelivery(msg, row({ status }), self, NOW).kind).toBe('drop');
    }
    expect(decideDelivery({ ...msg, attempt: 2 }, row(), self, NOW).kind).toBe('drop');
    expect(decideDelivery({ ...msg, jobId: 3 }, row(), self, NOW).kind).toBe('drop');
    expect(decideDelivery(msg, row({ executorKey: '10.0.0.2:50051' }), self, NOW).kind).toBe('drop');
    expect(decideDelivery(msg, row({ executorKey: self.address }), self, NOW).kind).toBe('start');
    expect(decideDelivery(msg, row({ notBefore: NOW + 1000 }), self, NOW).kind).toBe('drop');
  });

  it('dead-letters a broadcast run in its own control queue keyed to an address it does not advertise', () => {
    const d = decideDelivery(msg, row({ executorKey: 'exec1.example:50051' }), { ...self, from: 'control' }, NOW);
    expect(d).toEqual({ kind: 'dead', why: expect.stringMatching(/advertises 10\.0\.0\.1:50051/) });
    const mine = decideDelivery(msg, row({ executorKey: self.address }), { ...self, from: 'control' }, NOW);
    expect(mine.kind).toBe('start');
  });

  it('dead-letters a cancel on a runs queue (cancels are honored only from the control queue)', () => {
    expect(decideDelivery({ kind: 'cancel', runId: 5, reason: 'x' }, row(), self, NOW)).toEqual({
      kind: 'dead',
      why: 'a cancel message on a runs queue',
    });
  });

  it('fails a run past its deadline with the reason', () => {
    const d = decideDelivery(msg, row({ deadlineAt: NOW - 1 }), self, NOW);
    expect(d).toEqual({
      kind: 'expire',
      error: expect.stringMatching(/waited in the broker's queue past its deadline/),
    });
  });
});

describe('afterStart', () => {
  const o = (code: string, accepted = false) => ({ runId: 5, accepted, code, message: '' }) as never;
  it('acks once the ledger decided, fails what can never run, requeues what can not run here now', () => {
    expect(afterStart(o('', true))).toBe('ack');
    for (const c of ['NOT_PENDING', 'MISMATCH', 'JOB_GONE', 'WRONG_GROUP']) expect(afterStart(o(c))).toBe('ack');
    expect(afterStart(o('INVALID'))).toBe('fail');
    for (const c of ['AT_CAPACITY', 'DRAINING', 'LEDGER_DOWN']) expect(afterStart(o(c))).toBe('requeue');
  });
});
