/** What a secret value is replaced with, wherever it would be shown. */
export const SECRET_MASK = '***';
/** Shorter values are not masked: "1" or "yes" would blank out unrelated output and tell nothing anyway. */
export const MIN_MASKED_LENGTH = 4;

/**
 * `text` with every occurrence of each secret value (of at least MIN_MASKED_LENGTH characters) replaced by `***`,
 * longest first so that a value containing another is masked whole. `cut` marks where the text was cut (an output
 * buffer's "bytes omitted" marker): a value split by the cut leaves its start before it and its end after it, and
 * those pieces (of at least MIN_MASKED_LENGTH characters) are masked too.
 */
export function maskSecrets(text: string, values: Iterable<string>, cut?: RegExp): string {
  return maskPrepared(text, prepareSecrets(values), cut);
}

/** The values maskPrepared looks for: long enough, distinct, longest first (prepared once for many texts). */
export function prepareSecrets(values: Iterable<string>): readonly string[] {
  return [...new Set(values)].filter((v) => v.length >= MIN_MASKED_LENGTH).sort((a, b) => b.length - a.length);
}

/** maskSecrets with values from prepareSecrets. */
export function maskPrepared(text: string, secrets: readonly string[], cut?: RegExp): string {
  if (secrets.length === 0 || text === '') return text;
  const out = maskOccurrences(text, secrets);
  if (!cut) return out;
  const m = cut.exec(out);
  if (!m) return out;
  let before = out.slice(0, m.index);
  let after = out.slice(m.index + m[0].length);
  for (const secret of secrets) {
    for (let n = secret.length - 1; n >= MIN_MASKED_LENGTH; n--) {
      if (before.endsWith(secret.slice(0, n))) {
        before = before.slice(0, before.length - n) + SECRET_MASK;
        break;
      }
    }
    for (let n = secret.length - 1; n >= MIN_MASKED_LENGTH; n--) {
      if (after.startsWith(secret.slice(secret.length - n))) {
        after = SECRET_MASK + after.slice(n);
        break;
      }
    }
  }
  return before + m[0] + after;
}

/**
 * Every occurrence of every secret found in the text as given, overlapping ones merged, each merged stretch replaced
 * once: replacing one value after another would let the first replacement break a second value that overlaps it
 * (`aaaaXXXX` and `XXXXyyyy` in `aaaaXXXXyyyy`), leaving a piece of it in clear.
 */
function maskOccurrences(text: string, secrets: readonly string[]): string {
  const spans: [number, number][] = [];
  for (const secret of secrets) {
    for (let i = text.indexOf(secret); i !== -1; i = text.indexOf(secret, i + 1)) spans.push([i, i + secret.length]);
  }
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  let [start, end] = spans[0];
  for (const [s, e] of spans.slice(1)) {
    if (s <= end) end = Math.max(end, e);
    else {
      out += text.slice(at, start) + SECRET_MASK;
      at = end;
      [start, end] = [s, e];
    }
  }
  return out + text.slice(at, start) + SECRET_MASK + text.slice(end);
}
