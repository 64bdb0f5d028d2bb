import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { APP_CONFIG, AppConfig } from '@app/config';
import { ActiveRuns } from '../tasks/active-runs';
import { TokenCheck } from '../transport/token-check';
import { ExecutorMetrics } from './executor-metrics';

/**
 * `GET /metrics` on `[executor] host:metrics_port` (empty port: no server). Open like the dispatcher's while
 * `[auth] public_metrics` is true; otherwise it asks for `Authorization: Bearer <[executor] token>`. Nothing else is
 * served: any other path or method is a 404 / 405.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MetricsServer.name);
  private server: Server | null = null;
  private readonly token: TokenCheck | null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: ExecutorMetrics,
    active: ActiveRuns,
  ) {
    const e = config.executor;
    metrics.watch(e.group, () => active.size, e.capacity);
    this.token = !config.auth.publicMetrics && e.token ? new TokenCheck(e.token) : null;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { host, metricsPort } = this.config.executor;
    if (metricsPort === null) return;
    const server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(metricsPort, host, () => resolve());
    });
    this.server = server;
    this.logger.log(`metrics on http://${host}:${metricsPort}/metrics${this.token ? ' (token required)' : ''}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return end(res, 404, 'not found: the executor serves /metrics only\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return end(res, 405, 'method not allowed: GET /metrics\n');
    if (this.token) {
      const value = req.headers.authorization;
      if (!this.token.acceptsValues(value === undefined ? [] : [value])) {
        return end(res, 401, 'missing or wrong executor token ([executor] token)\n');
      }
    }
    try {
      const body = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body);
    } catch (e) {
      this.logger.warn(`metrics scrape failed: ${(e as Error).message}`);
      end(res, 503, 'metrics unavailable\n');
    }
  }
}

function end(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
}
