// Every route the dispatcher serves declares who may call it (@Access): AccessGuard refuses an undeclared route at
// run time; this walks the route table so that a route without a declaration fails here, before anyone calls it.
import { join } from 'node:path';
import { Controller, Get, Post, RequestMethod, SetMetadata, Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { loadConfig } from '@app/config';
import { DispatcherModule } from '../dispatcher.module';
import { plaintextLink } from '../executor-client/executor-link';
import { Access, ACCESS_KEY } from './access.decorator';
import type { AccessLevel } from './principal';

interface Route {
  route: string;
  handler: string;
  level: AccessLevel | undefined;
}

function joinPath(...parts: (string | string[] | undefined)[]): string {
  const segments = parts
    .flatMap((p) => (Array.isArray(p) ? p : [p ?? '']))
    .flatMap((p) => p.split('/'))
    .filter((s) => s !== '');
  return `/${segments.join('/')}`;
}

/** Each route handler of the controllers (`METHOD path`), with the level it declares (on itself or its class). */
function routesOf(controllers: Type[]): Route[] {
  const routes: Route[] = [];
  for (const controller of controllers) {
    const base = Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined;
    const proto = controller.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      const handler = descriptor?.value as unknown;
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (path === undefined) continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod;
      const level = (Reflect.getMetadata(ACCESS_KEY, handler) ?? Reflect.getMetadata(ACCESS_KEY, controller)) as
        AccessLevel | undefined;
      routes.push({
        route: `${RequestMethod[method]} ${joinPath(base, path)}`,
        handler: `${controller.name}.${name}`,
        level,
      });
    }
  }
  return routes;
}

const undeclared = (routes: Route[]) =>
  routes.filter((r) => r.level === undefined).map((r) => `${r.route} (${r.handler})`);

describe('the route table', () => {
  const controllers = DispatcherModule.forRoot(
    loadConfig(join(__dirname, '../../../../conf/conf.ini'), {}),
    plaintextLink(),
  ).controllers as Type[];
  const routes = routesOf(controllers);

  it('is read from every controller the module registers', () => {
    expect(controllers.length).toBeGreaterThanOrEqual(12);
    expect(routes.length).toBeGreaterThanOrEqual(30);
    // No two handlers on one route: the table below would otherwise describe only one of them.
    const names = routes.map((r) => r.route);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('has an access level on every route', () => {
    expect(undeclared(routes)).toEqual([]);
  });

  it('gives each route the level the auth API names', () => {
    const levels = Object.fromEntries(routes.map((r) => [r.route, r.level]));
    const expected: Record<string, AccessLevel> = {
      'GET /': 'public',
      'GET /api/health': 'public',
      'POST /api/auth/login': 'public',
      'GET /metrics': 'metrics',
      'GET /api/jobs': 'viewer',
      'GET /api/jobs/:id': 'viewer',
      'GET /api/jobs/:id/runs': 'viewer',
      'GET /api/jobs/:id/graph': 'viewer',
      'GET /api/runs': 'viewer',
      'GET /api/runs/:id': 'viewer',
      'GET /api/executors': 'viewer',
      'GET /api/dispatchers': 'viewer',
      'GET /api/cron/next': 'viewer',
      'GET /api/events': 'viewer',
      'POST /api/jobs/:id/trigger': 'operator',
      'POST /api/jobs/:id/pause': 'operator',
      'POST /api/jobs/:id/resume': 'operator',
      'POST /api/runs/:id/cancel': 'operator',
      'POST /api/jobs': 'admin',
      'PATCH /api/jobs/:id': 'admin',
      'DELETE /api/jobs/:id': 'admin',
      'GET /api/auth/me': 'signed-in',
      'POST /api/auth/logout': 'signed-in',
      'GET /api/tokens': 'signed-in',
      'POST /api/tokens': 'signed-in',
      'DELETE /api/tokens/:id': 'signed-in',
      'GET /api/users': 'admin',
      'POST /api/users': 'admin',
      // Admin, or a user changing its own password: the service decides which (users.service.ts).
      'PATCH /api/users/:id': 'signed-in',
      'DELETE /api/users/:id': 'admin',
      'GET /api/audit': 'admin',
    };
    const actual = Object.fromEntries(Object.keys(expected).map((route) => [route, levels[route]]));
    expect(actual).toEqual(expected);
  });

  it('finds a route that declares nothing (the check above can fail)', () => {
    @Controller('api/new')
    class NewController {
      @Get()
      @Access('viewer')
      list(): string[] {
        return [];
      }

      @Post(':id/frobnicate')
      frobnicate(): void {}
    }
    @SetMetadata(ACCESS_KEY, 'admin')
    @Controller('api/declared')
    class DeclaredOnClass {
      @Get()
      list(): string[] {
        return [];
      }
    }
    const found = routesOf([NewController, DeclaredOnClass]);
    expect(undeclared(found)).toEqual(['POST /api/new/:id/frobnicate (NewController.frobnicate)']);
    expect(found.map((r) => [r.route, r.level])).toEqual([
      ['GET /api/new', 'viewer'],
      ['POST /api/new/:id/frobnicate', undefined],
      ['GET /api/declared', 'admin'],
    ]);
  });
});
