import type { RunStatus } from '@app/contract';
import { humanize } from '../lib/format';

export function StatusBadge({ status }: { status: RunStatus }) {
  return <span className={`badge status-${status}`}>{humanize(status)}</span>;
}

export function EnabledBadge({ enabled }: { enabled: boolean }) {
  return <span className={`badge ${enabled ? 'badge-on' : 'badge-off'}`}>{enabled ? 'enabled' : 'paused'}</span>;
}
