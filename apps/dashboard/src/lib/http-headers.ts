// Values the dashboard reads out of HTTP: a cookie (the CSRF token) and Retry-After (a login refused for a while).

/** The value of cookie `name` in a `document.cookie` string, decoded; null when it is not set. */
export function cookieValue(cookies: string, name: string): string | null {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return null;
}

/**
 * Retry-After as whole seconds from `now` (RFC 9110 §10.2.3: a number of seconds or an HTTP date); null when absent
 * or unreadable.
 */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * A 429's message with its wait counted down: the server's own "try again in N s" (if it wrote one) gives way to
 * the seconds left, and to "you can try again now" at 0.
 */
export function retryMessage(message: string, secondsLeft: number): string {
  const base = message.replace(/[\s:;,.]*try again in \d+ s\.?\s*$/i, '').trim() || 'Too many attempts';
  return secondsLeft > 0 ? `${base}: try again in ${secondsLeft} s` : `${base}; you can try again now`;
}
