import './pager.css';

export function Pager({
  offset,
  limit,
  total,
  onChange,
  what,
}: {
  offset: number;
  limit: number;
  total: number;
  onChange: (offset: number) => void;
  what: string;
}) {
  if (total <= limit && offset === 0) return null;
  const last = Math.min(offset + limit, total);
  return (
    <nav className="pager" aria-label={`${what} pages`}>
      <span>
        {total === 0 ? 0 : offset + 1}–{last} of {total} {what}
      </span>
      <button
        type="button"
        className="button"
        disabled={offset === 0}
        onClick={() => onChange(Math.max(0, offset - limit))}
      >
        Previous
      </button>
      <button type="button" className="button" disabled={last >= total} onClick={() => onChange(offset + limit)}>
        Next
      </button>
    </nav>
  );
}
