import type { DependencyLedger, LedgerPosition } from '@app/persistence';

/** A reader of the whole ledger's changes in (updated_at, id) order, behind a position it moves forward. */
export interface LedgerReader {
  position(): LedgerPosition;
  resumeFrom(position: LedgerPosition): void;
  pass(now: number): Promise<unknown>;
}

/** Where positions are stored (`pass_cursors`). */
export type StoredPositions = Pick<DependencyLedger, 'cursor' | 'advanceCursor'>;

const STORE_EVERY_MS = 5000;
/** A stored position older than this starts this far back (a cluster down for days does not replay them). */
const MAX_CATCH_UP_MS = 24 * 3600_000;

/**
 * Runs a whole-ledger reader (the retry repair, the notification planner) on the leading dispatcher only
 * (ShardOwnership.leads), its position stored in `pass_cursors` under `name` every 5 s. A dispatcher that starts
 * leading (a handover of shard 0, a restart of every dispatcher, the end of an etcd outage) resumes from the stored
 * position, at most a few seconds behind the last leader: no row falls between two leaders, and none is read far
 * back again. Without a stored position it starts `lookbackMs` back, as a first start always did. Reading a row twice
 * (two leaders for a moment, the seconds between two stores) is harmless: both readers' writes are idempotent.
 */
export class LeaderPass {
  private ledLast = false;
  private storedAt = 0;
  private stored: LedgerPosition | null = null;

  constructor(
    private readonly reader: LedgerReader,
    private readonly positions: StoredPositions | undefined,
    private readonly name: string,
    private readonly lookbackMs: number,
  ) {}

  async run(leads: boolean, now: number): Promise<void> {
    if (!leads) {
      this.ledLast = false;
      return;
    }
    if (!this.ledLast && this.positions) {
      const stored = await this.positions.cursor(this.name);
      const floor = now - MAX_CATCH_UP_MS;
      const from = stored ?? { at: now - this.lookbackMs, id: 0 };
      this.reader.resumeFrom(from.at < floor ? { at: floor, id: 0 } : from);
      this.stored = stored;
    }
    this.ledLast = true;
    await this.reader.pass(now);
    await this.store(now);
  }

  private async store(now: number): Promise<void> {
    if (!this.positions || now - this.storedAt < STORE_EVERY_MS) return;
    const at = this.reader.position();
    if (this.stored && this.stored.at === at.at && this.stored.id === at.id) return;
    this.storedAt = now;
    await this.positions.advanceCursor(this.name, at);
    this.stored = at;
  }
}
