import { cronToWords } from '../lib/cron-words';
import './schedule.css';

/**
 * The schedule in words (when it is a common form) above the expression as written. An empty one belongs to a job
 * that runs after its parents only (`after`, when given, says how).
 */
export function Schedule({ cron, after }: { cron: string; after?: string }) {
  if (cron.trim() === '')
    return (
      <span className="schedule">
        <span className="schedule-words">No schedule</span>
        <span className="muted">{after ?? 'runs after its parents'}</span>
      </span>
    );
  const words = cronToWords(cron);
  return (
    <span className="schedule">
      {words && <span className="schedule-words">{words}</span>}
      <code className="schedule-expr">{cron}</code>
    </span>
  );
}
