import type { RunJson, RunStatus } from '@app/contract';
import { humanize } from '../lib/format';

/** A run's status; a skipped record of several ticks says how many, and until when. */
export function StatusBadge({
  status,
  run,
}: {
  status: RunStatus;
  run?: Pick<RunJson, 'skippedCount' | 'skippedUntil'>;
}) {
  const ticks = status === 'skipped' && run && run.skippedCount > 1 ? run.skippedCount : 0;
  return (
    <span
      className={`badge status-${status}`}
      title={ticks > 0 ? `${ticks} ticks folded into this record, the last at ${run?.skippedUntil ?? '?'}` : undefined}
    >
      {humanize(status)}
      {ticks > 0 ? ` ×${ticks}` : ''}
    </span>
  );
}

export function EnabledBadge({ enabled }: { enabled: boolean }) {
  return <span className={`badge ${enabled ? 'badge-on' : 'badge-off'}`}>{enabled ? 'enabled' : 'paused'}</span>;
}
