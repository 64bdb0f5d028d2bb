import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';

/** Where `npm run build` puts the dashboard's static files: dist/dashboard, beside dist/apps/dispatcher. */
export function dashboardDir(): string | null {
  const candidates = [join(__dirname, '../../dashboard'), join(process.cwd(), 'dist/dashboard')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? null;
}

/**
 * Serves the built dashboard at `/` (it uses only the public REST API). Without a build, DashboardController's
 * short page with links to Swagger answers instead.
 */
export function serveDashboard(app: NestExpressApplication): void {
  const dir = dashboardDir();
  if (dir) app.useStaticAssets(dir, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForIndex });
}

function noCacheForIndex(res: { setHeader(name: string, value: string): void }, path: string): void {
  if (path.endsWith('index.html')) res.setHeader('Cache-Control', 'no-cache');
}
