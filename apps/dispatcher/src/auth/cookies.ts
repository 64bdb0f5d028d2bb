import type { Request, Response } from 'express';

export const SESSION_COOKIE = 'gocron_session';
export const CSRF_COOKIE = 'gocron_csrf';

/**
 * The request's cookies by name (RFC 6265 `name=value; name2=value2`). Ten lines rather than a dependency: the
 * values read here are our own base64url strings; anything else is ignored. The first of a repeated name wins, as
 * browsers send the most specific path first.
 */
export function readCookies(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!(name in out) && /^[A-Za-z0-9_-]{1,256}$/.test(value)) out[name] = value;
  }
  return out;
}

/** Whether the request carries cookie `name` more than once (one of them set by someone else: cookie tossing). */
export function repeatedCookie(req: Request, name: string): boolean {
  let n = 0;
  for (const part of (req.headers.cookie ?? '').split(';')) if (part.split('=')[0].trim() === name) n++;
  return n > 1;
}

/** The session cookie (httpOnly) and the CSRF cookie the dashboard's JavaScript reads and echoes in X-CSRF-Token. */
export function setSessionCookies(
  req: Request,
  res: Response,
  session: string,
  csrf: string,
  ttlSeconds: number,
): void {
  const common = { path: '/', sameSite: 'strict' as const, secure: req.secure, maxAge: ttlSeconds * 1000 };
  res.cookie(SESSION_COOKIE, session, { ...common, httpOnly: true });
  res.cookie(CSRF_COOKIE, csrf, { ...common, httpOnly: false });
}

export function clearSessionCookies(req: Request, res: Response): void {
  const common = { path: '/', sameSite: 'strict' as const, secure: req.secure };
  res.clearCookie(SESSION_COOKIE, { ...common, httpOnly: true });
  res.clearCookie(CSRF_COOKIE, common);
}
