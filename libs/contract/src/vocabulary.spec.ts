import { ACTIVE_STATUSES, FINAL_STATUSES, isActive, isFinal, RETRYABLE_STATUSES, RUN_STATUSES } from './vocabulary';

describe('run statuses', () => {
  it('are active (pending, running) or final, never both', () => {
    expect(RUN_STATUSES.filter(isActive)).toEqual(['pending', 'running']);
    expect(FINAL_STATUSES).toEqual(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost', 'skipped', 'missed']);
    for (const s of RUN_STATUSES) expect(isFinal(s)).toBe(!isActive(s));
    expect([...ACTIVE_STATUSES, ...FINAL_STATUSES].sort()).toEqual([...RUN_STATUSES].sort());
  });

  it('retry only from final statuses', () => {
    expect(RETRYABLE_STATUSES.every(isFinal)).toBe(true);
  });
});
