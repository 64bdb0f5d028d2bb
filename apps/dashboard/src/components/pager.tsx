import './pager.css';

/**
 * Offset paging over a list whose `total` the API counts only up to 10,000 (`totalCapped` beyond): then the
 * count reads "more than 10,000" and Next stays available while pages come back full.
 */
export function Pager({
  offset,
  limit,
  total,
  capped = false,
  maxOffset = Infinity,
  shown,
  onChange,
  what,
}: {
  offset: number;
  limit: number;
  total: number;
  capped?: boolean;
  /** The deepest offset the list takes (run lists: 10,000; deeper pages need filters). */
  maxOffset?: number;
  /** Items on this page. */
  shown: number;
  onChange: (offset: number) => void;
  what: string;
}) {
  if (!capped && total <= limit && offset === 0) return null;
  const last = offset + shown;
  const more = (capped ? shown === limit : last < total) && offset + limit <= maxOffset;
  return (
    <nav className="pager" aria-label={`${what} pages`}>
      <span>
        {shown === 0 ? 0 : offset + 1}–{shown === 0 ? 0 : last} of{' '}
        {capped ? `more than ${total.toLocaleString('en')}` : total} {what}
      </span>
      <button
        type="button"
        className="button"
        disabled={offset === 0}
        onClick={() => onChange(Math.max(0, offset - limit))}
      >
        Previous
      </button>
      <button type="button" className="button" disabled={!more} onClick={() => onChange(offset + limit)}>
        Next
      </button>
    </nav>
  );
}
