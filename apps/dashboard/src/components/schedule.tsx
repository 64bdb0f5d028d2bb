import { cronToWords } from '../lib/cron-words';
import './schedule.css';

/** The schedule in words (when it is a common form) above the expression as written. */
export function Schedule({ cron }: { cron: string }) {
  const words = cronToWords(cron);
  return (
    <span className="schedule">
      {words && <span className="schedule-words">{words}</span>}
      <code className="schedule-expr">{cron}</code>
    </span>
  );
}
