// "in 4 s" / "3 min ago", ticking, with the absolute time on hover and in a <time> element.
import { useNow } from '../hooks/use-now';
import { formatDateTime, formatRelative } from '../lib/format';

export function RelTime({
  iso,
  timeZone,
  empty = '—',
  upcoming,
}: {
  iso: string | null | undefined;
  timeZone?: string;
  empty?: string;
  /** A next fire time: one a few seconds past is being taken now. */
  upcoming?: boolean;
}) {
  const now = useNow();
  if (!iso) return <span className="muted">{empty}</span>;
  const absolute = formatDateTime(iso, timeZone) + (timeZone ? ` (${timeZone})` : '');
  return (
    <time dateTime={iso} title={absolute}>
      {formatRelative(iso, now, upcoming)}
    </time>
  );
}
