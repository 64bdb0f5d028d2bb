import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Access } from '../auth/access.decorator';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gocron-ts</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{background:#eee;padding:0 .2em}</style>
</head><body>
<h1>gocron-ts</h1>
<p>The dispatcher is running, but the dashboard is not built here (<code>npm run build</code> builds it into <code>dist/dashboard</code>). Meanwhile:</p>
<ul>
<li><a href="/api/docs">Swagger UI</a>: every endpoint, with examples (<a href="/api/docs-json">OpenAPI JSON</a>)</li>
<li><a href="/api/jobs">/api/jobs</a>, <a href="/api/runs">/api/runs</a>, <a href="/api/executors">/api/executors</a>, <a href="/api/health">/api/health</a></li>
</ul>
</body></html>`;

@ApiExcludeController()
@Controller()
export class DashboardController {
  @Get()
  @Access('public')
  @Header('Content-Type', 'text/html; charset=utf-8')
  index(): string {
    return PAGE;
  }
}
