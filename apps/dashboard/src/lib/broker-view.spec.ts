import { formatCount, formatGroups, queueRole } from './broker-view';

describe('broker view', () => {
  it.each([
    [null, '–'],
    [undefined, '–'],
    [0, '0'],
    [42, '42'],
  ])('formatCount(%p) is %p', (n, text) => {
    expect(formatCount(n)).toBe(text);
  });

  it('names what each kind of queue holds', () => {
    expect(queueRole({ kind: 'runs', group: 'batch' })).toBe('runs of group batch');
    expect(queueRole({ kind: 'exec', executorId: 'exec-1' })).toBe('control queue of executor exec-1');
    expect(queueRole({ kind: 'dead' })).toBe('dead letters');
    expect(queueRole({ kind: 'runs' })).toBe('runs');
  });

  it('words the broker groups, * as every group', () => {
    expect(formatGroups(['*'])).toBe('every group (*)');
    expect(formatGroups(['batch', 'reports'])).toBe('batch, reports');
    expect(formatGroups([])).toBe('none');
  });
});
