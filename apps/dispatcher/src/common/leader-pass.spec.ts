import type { LedgerPosition } from '@app/persistence';
import { LeaderPass, LedgerReader, StoredPositions } from './leader-pass';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const MIN = 60_000;

/** A reader that moves its position to `now` on each pass, recording where each pass started. */
class Reader implements LedgerReader {
  starts: LedgerPosition[] = [];
  private at: LedgerPosition = { at: 0, id: 0 };
  position(): LedgerPosition {
    return this.at;
  }
  resumeFrom(p: LedgerPosition): void {
    this.at = p;
  }
  pass(now: number): Promise<void> {
    this.starts.push(this.at);
    this.at = { at: now, id: 7 };
    return Promise.resolve();
  }
}

/** pass_cursors in memory, forward only as the repository's. */
class Positions implements StoredPositions {
  readonly rows = new Map<string, LedgerPosition>();
  writes = 0;
  cursor(name: string): Promise<LedgerPosition | null> {
    return Promise.resolve(this.rows.get(name) ?? null);
  }
  advanceCursor(name: string, to: LedgerPosition): Promise<void> {
    this.writes++;
    const at = this.rows.get(name);
    if (!at || at.at < to.at || (at.at === to.at && at.id < to.id)) this.rows.set(name, to);
    return Promise.resolve();
  }
}

describe('LeaderPass', () => {
  it('reads only while leading; a new leader resumes where the last one stored its position', async () => {
    const positions = new Positions();
    const [r1, r2] = [new Reader(), new Reader()];
    const [d1, d2] = [new LeaderPass(r1, positions, 'x', 15 * MIN), new LeaderPass(r2, positions, 'x', 15 * MIN)];
    await d1.run(true, NOW);
    await d2.run(false, NOW);
    expect(r1.starts).toEqual([{ at: NOW - 15 * MIN, id: 0 }]); // nothing stored yet: the look-back
    expect(r2.starts).toEqual([]);
    await d1.run(true, NOW + 6000);
    expect(positions.rows.get('x')).toEqual({ at: NOW + 6000, id: 7 });
    // Shard 0 moves to d2: it starts from d1's stored position, not from its own start or 15 minutes back.
    await d1.run(false, NOW + 7000);
    await d2.run(true, NOW + 7000);
    expect(r2.starts).toEqual([{ at: NOW + 6000, id: 7 }]);
    expect(r1.starts).toHaveLength(2);
  });

  it('stores at most every 5 s; a stored position more than a day old starts a day back', async () => {
    const positions = new Positions();
    positions.rows.set('x', { at: NOW - 3 * 24 * 3600_000, id: 1 });
    const r = new Reader();
    const d = new LeaderPass(r, positions, 'x', 15 * MIN);
    await d.run(true, NOW);
    expect(r.starts[0]).toEqual({ at: NOW - 24 * 3600_000, id: 0 });
    await d.run(true, NOW + 1000);
    await d.run(true, NOW + 2000);
    expect(positions.writes).toBe(1);
    await d.run(true, NOW + 5000);
    expect(positions.writes).toBe(2);
  });
});
