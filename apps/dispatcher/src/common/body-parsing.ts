import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { json } from 'express';

/**
 * JSON bodies up to 1 MiB; a body that does not parse is a 400 in the API's error shape, not express's HTML page.
 */
export function installBodyParsing(app: NestExpressApplication): void {
  app.use(json({ limit: '1mb' }));
  app.use(
    (err: { status?: number; type?: string; message?: string }, _req: Request, res: Response, next: NextFunction) => {
      if (!err) return next();
      const statusCode = err.status && err.status >= 400 && err.status < 500 ? err.status : 400;
      const message =
        err.type === 'entity.too.large'
          ? 'body: larger than 1 MiB'
          : err.type === 'entity.parse.failed'
            ? `body: invalid JSON (${err.message ?? 'parse error'})`
            : `body: ${err.message ?? 'unreadable'}`;
      res
        .status(statusCode)
        .json({ statusCode, message, error: statusCode === 413 ? 'Payload Too Large' : 'Bad Request' });
    },
  );
}
