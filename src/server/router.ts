import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { InferaError } from '../errors';
import { HttpExchange } from './http-exchange';
import type { ModelMetrics } from '../monitoring/metrics';

export type Handler = (ex: HttpExchange) => Promise<void> | void;

export interface RouteOptions {
  /** Data-plane routes are refused with 503 while the server drains. */
  dataPlane?: boolean;
}

/** Headers any route may read; uWS requests must be read eagerly. */
const HEADERS = ['content-length', 'content-type', 'inference-header-content-length', 'authorization'] as const;

/**
 * Registers routes on a uWS app. Counts in-flight requests (for draining) and
 * turns anything a handler throws into a coded error response.
 */
export class Router {
  inFlight = 0;
  draining = false;

  constructor(private readonly app: TemplatedApp, private readonly metrics?: ModelMetrics) {}

  add(method: 'get' | 'post', pattern: string, handler: Handler, opts: RouteOptions = {}): void {
    const paramCount = (pattern.match(/:/g) ?? []).length;
    this.app[method](pattern, (res: HttpResponse, req: HttpRequest) => {
      const ex = new HttpExchange(res, req, paramCount, HEADERS);
      void this.run(ex, pattern, handler, opts);
    });
  }

  /** Unknown routes: 404 with the usual error body. */
  fallback(): void {
    this.app.any('/*', (res: HttpResponse, req: HttpRequest) => {
      const ex = new HttpExchange(res, req, 0, HEADERS);
      ex.error(new InferaError('ENG_ERR_ROUTE_NOT_FOUND', `${ex.method} ${ex.url}`));
      this.metrics?.http.inc({ route: 'unknown', status: String(ex.status) });
    });
  }

  private async run(ex: HttpExchange, pattern: string, handler: Handler, opts: RouteOptions): Promise<void> {
    this.inFlight += 1;
    try {
      if (opts.dataPlane && this.draining) throw new InferaError('ENG_ERR_SHUTTING_DOWN', undefined, { retryAfterS: 1 });
      await handler(ex);
    } catch (e) {
      ex.error(e);
    } finally {
      this.inFlight -= 1;
      this.metrics?.http.inc({ route: pattern, status: String(ex.status || 499) });
    }
  }
}
