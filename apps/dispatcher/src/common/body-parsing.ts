import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { json } from 'express';

/**
 * How deep a JSON body may nest objects and arrays, the body itself being level 1. A job needs 3 (`http.headers`).
 * What reads the body after the parser (Nest's validation pipe, class-transformer, class-validator) walks it
 * recursively, and a body a few thousand levels deep ran those walks off the stack: a 500. The parser itself
 * (V8's JSON.parse) is iterative, so the bound is checked on what it returns.
 */
export const JSON_MAX_DEPTH = 64;

interface BodyError {
  status?: number;
  type?: string;
  message?: string;
}

/**
 * JSON bodies up to 1 MiB and {@link JSON_MAX_DEPTH} levels; a body that does not parse is a 400 in the API's error
 * shape, not express's HTML page.
 */
export function installBodyParsing(app: NestExpressApplication): void {
  app.use(json({ limit: '1mb' }));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (!nestsDeeperThan(req.body, JSON_MAX_DEPTH)) return next();
    const err: BodyError = { status: 400, type: 'entity.too.deep' };
    next(err);
  });
  app.use((err: BodyError, _req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    const statusCode = err.status && err.status >= 400 && err.status < 500 ? err.status : 400;
    res.status(statusCode).json({
      statusCode,
      message: bodyProblem(err),
      error: statusCode === 413 ? 'Payload Too Large' : statusCode === 415 ? 'Unsupported Media Type' : 'Bad Request',
    });
  });
}

function bodyProblem(err: BodyError): string {
  if (err.type === 'entity.too.large') return 'body: larger than 1 MiB';
  if (err.type === 'entity.too.deep') return `body: JSON nested deeper than ${JSON_MAX_DEPTH} levels`;
  if (err.type === 'entity.parse.failed') return `body: invalid JSON (${err.message ?? 'parse error'})`;
  return `body: ${err.message ?? 'unreadable'}`;
}

/** Whether `value` nests objects or arrays more than `limit` levels deep; iterative, so any depth is safe to measure. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<{ node: object; depth: number }> = [];
  if (typeof value === 'object' && value !== null) pending.push({ node: value, depth: 1 });
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (item.depth > limit) return true;
    for (const child of Object.values(item.node) as unknown[]) {
      if (typeof child === 'object' && child !== null) pending.push({ node: child, depth: item.depth + 1 });
    }
  }
  return false;
}
