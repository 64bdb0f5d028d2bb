// The API's 400 `message` list, split by the form field each message names. class-validator messages start with
// the property path ("http.url must be …", "timezone: unknown IANA time zone 'X'", "cron: never fires: …");
// `each` rules read "http.each value in expectStatus must …". Whatever names no field stays general.

export interface FieldErrors {
  byField: Record<string, string[]>;
  general: string[];
}

/** The field a message is about, or null: the longest known path it starts with, at a word boundary. */
export function fieldOf(message: string, fields: readonly string[]): string | null {
  const each = /^((?:[A-Za-z]+\.)*)each value in ([A-Za-z]+)\b/.exec(message);
  const path = each ? `${each[1]}${each[2]}` : message;
  let best: string | null = null;
  for (const f of fields) {
    if (!path.startsWith(f)) continue;
    const next = path.charAt(f.length);
    if (next !== '' && !/[\s:.[]/.test(next)) continue;
    if (best === null || f.length > best.length) best = f;
  }
  return best;
}

export function splitByField(messages: string[], fields: readonly string[]): FieldErrors {
  const out: FieldErrors = { byField: {}, general: [] };
  for (const m of messages) {
    const f = fieldOf(m, fields);
    if (f === null) out.general.push(m);
    else (out.byField[f] ??= []).push(m);
  }
  return out;
}
