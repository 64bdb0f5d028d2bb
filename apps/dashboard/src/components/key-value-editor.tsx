// Rows of name = value (a shell job's environment, an HTTP job's headers), or of secrets: write-only values, where a
// stored one shows as "set" and is never read back (the API has it encrypted and answers "***").
import type { Pair } from '../lib/job-form';
import './key-value-editor.css';

export function KeyValueEditor({
  id,
  legend,
  hint,
  noun,
  rows,
  onChange,
  errors,
  secret = false,
}: {
  id: string;
  legend: string;
  hint: string;
  noun: string;
  rows: Pair[];
  onChange: (rows: Pair[]) => void;
  errors?: string[];
  /** Values are write-only: typed hidden, a stored one kept unless replaced. */
  secret?: boolean;
}) {
  const set = (i: number, change: Partial<Pair>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const errorId = `${id}-error`;
  return (
    <fieldset
      className={`kv field${errors ? ' invalid' : ''}`}
      id={id}
      aria-describedby={errors ? errorId : `${id}-hint`}
    >
      <legend>{legend}</legend>
      <p className="hint" id={`${id}-hint`}>
        {hint}
      </p>
      {rows.map((row, i) => (
        <div className="kv-row" key={i}>
          <input
            aria-label={`${noun} ${i + 1} name`}
            placeholder="NAME"
            value={row.key}
            spellCheck={false}
            autoComplete="off"
            // A stored secret is bound to its name: renaming it means typing its value again.
            readOnly={secret && row.stored}
            onChange={(e) => set(i, { key: e.target.value })}
          />
          <span aria-hidden="true">=</span>
          <input
            aria-label={`${noun} ${i + 1} value`}
            placeholder={secret && row.stored ? 'set (***): type to replace' : 'value'}
            value={row.value}
            type={secret ? 'password' : 'text'}
            spellCheck={false}
            autoComplete={secret ? 'new-password' : 'off'}
            onChange={(e) => set(i, { value: e.target.value })}
          />
          <button
            type="button"
            className="button button-quiet"
            aria-label={`Remove ${noun.toLowerCase()} ${i + 1}`}
            onClick={() => onChange(rows.filter((_, j) => j !== i))}
          >
            Remove
          </button>
        </div>
      ))}
      <button type="button" className="button" onClick={() => onChange([...rows, { key: '', value: '' }])}>
        Add {noun.toLowerCase()}
      </button>
      {errors && <FieldMessages id={errorId} messages={errors} />}
    </fieldset>
  );
}

export function FieldMessages({ id, messages }: { id: string; messages: string[] }) {
  return (
    <div className="field-error" id={id}>
      {messages.map((m) => (
        <p key={m}>{m}</p>
      ))}
    </div>
  );
}
