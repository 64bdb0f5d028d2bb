import { networkInterfaces, hostname } from 'node:os';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { AppConfig } from '@app/config';
import { AccessGuard } from './access.guard';
import type { AuthedRequest } from './principal';

const LOOPBACK = ['localhost', '127.0.0.1', '::1'];
const WILDCARD_BIND = ['0.0.0.0', '::', ''];

/**
 * Host names the API answers to: [dispatcher] allowed_hosts, else the configured host and the loopback names (and,
 * bound to every interface, this machine's name and addresses). A browser tricked by DNS rebinding sends the
 * attacker's name in Host: it gets 421, whatever address that name now points at.
 */
export function allowedHosts(config: AppConfig): Set<string> | null {
  const { allowedHosts: configured, host } = config.dispatcher;
  if (configured.includes('*')) return null;
  if (configured.length > 0) return new Set(configured.map(normalHost));
  const names = new Set([...LOOPBACK, normalHost(host)]);
  if (WILDCARD_BIND.includes(host)) {
    names.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(normalHost(a.address));
  }
  return names;
}

/**
 * The name in a Host header: `Example.COM:8080` → `example.com`, `[::1]:8080` → `::1`; null for anything that is
 * not `name[:port]` or `[v6][:port]` (a userinfo, a path, a port that is not digits), which no browser sends.
 */
export function hostName(value: string): string | null {
  const m = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9_.-]+))(?::\d{1,5})?$/.exec(value.trim().toLowerCase());
  return m ? (m[1] ?? m[2]) : null;
}

/** A configured name or address as hostName reads it; a bare IPv6 address (`::1`) as it is. */
export function normalHost(value: string): string {
  const v = value.trim().toLowerCase();
  return v.includes(':') && !v.startsWith('[') && v.split(':').length > 2 ? v : (hostName(v) ?? v);
}

function refuse(res: Response, statusCode: number, error: string, message: string): void {
  res.status(statusCode).json({ statusCode, message, error });
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

/**
 * A state-changing request must be JSON or carry no body at all. The other types (text/plain, forms, multipart)
 * are what a foreign web page can send without a CORS preflight: refusing them here, before any parsing, means no
 * such request changes anything, whatever its credentials.
 */
export function isJsonOrEmpty(req: Request): boolean {
  const type = req.headers['content-type'];
  if (type !== undefined) return JSON_TYPE.test(type);
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

/**
 * What every request meets before routing: security headers (helmet), the Host check (421), CORS when configured,
 * 415 for non-JSON changes, and a viewer credential for Swagger when [auth] public_docs is false. Installed before
 * body parsing, so nothing refused here is parsed.
 */
export function installEdge(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  app.use(
    helmet({
      contentSecurityPolicy: {
        // http://host:8080 is the usual way in: upgrading its subresources to https would break the page.
        directives: { upgradeInsecureRequests: null },
      },
      // Over plain HTTP a browser ignores HSTS, and with includeSubDomains on a shared name it would bind every
      // sibling host to HTTPS: TLS is the proxy's job here, and so is its HSTS header.
      strictTransportSecurity: false,
    }),
  );
  const hosts = allowedHosts(config);
  if (hosts) {
    app.use((req: Request, res: Response, next: NextFunction) => {
      const host = req.headers.host;
      const name = host === undefined ? null : hostName(host);
      // Node keeps the first of repeated Host headers; a request with two is refused, whatever they say.
      const single = req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host').length === 1;
      if (single && name !== null && hosts.has(name)) return next();
      refuse(
        res,
        421,
        'Misdirected Request',
        host === undefined
          ? 'the Host header is missing'
          : `Host '${host.slice(0, 100)}' is not served here: add it to [dispatcher] allowed_hosts`,
      );
    });
  }
  const origins = config.dispatcher.corsOrigins;
  if (origins.length > 0) {
    app.enableCors(
      origins.includes('*')
        ? { origin: '*', credentials: false }
        : {
            origin: origins,
            credentials: true,
            allowedHeaders: ['authorization', 'content-type', 'x-csrf-token', 'if-match'],
          },
    );
  }
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!UNSAFE.has(req.method) || isJsonOrEmpty(req)) return next();
    refuse(
      res,
      415,
      'Unsupported Media Type',
      `a ${req.method} body must be application/json (got ${String(req.headers['content-type'] ?? 'no Content-Type').slice(0, 100)})`,
    );
  });
  if (config.auth.enabled && !config.auth.publicDocs) {
    const guard = app.get(AccessGuard);
    app.use(['/api/docs', '/api/docs-json', '/api/docs-yaml'], (req: Request, res: Response, next: NextFunction) => {
      guard
        .authenticate(req as AuthedRequest, res)
        .then((principal) => guard.authorize(req, principal, 'viewer') && next())
        .catch((e: { getStatus?: () => number; getResponse?: () => unknown }) => {
          if (typeof e.getStatus !== 'function') return next(e);
          res.status(e.getStatus()).json(e.getResponse?.());
        });
    });
  }
}
