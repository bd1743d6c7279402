import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { InferaError, logDetail, toInferaError } from '../errors';
import { AccessPolicy, ACCESS_HEADERS } from './access';
import { HttpExchange } from './http-exchange';
import type { ModelMetrics } from '../monitoring/metrics';

export type Handler = (ex: HttpExchange) => Promise<void> | void;

export interface RouteOptions {
  /** Data-plane routes are refused with 503 while the server drains, and need an API key when keys are configured. */
  dataPlane?: boolean;
}

export type RouteLog = (obj: Record<string, unknown>, msg: string) => void;

/** A registered route, as uWS spells it (`:model` parameters). */
export interface RouteEntry {
  method: 'get' | 'post';
  pattern: string;
}

/** Headers any route may read; uWS requests must be read eagerly. */
const HEADERS = ['content-length', 'content-type', 'content-encoding', 'inference-header-content-length', 'authorization', 'x-routing-key', ...ACCESS_HEADERS] as const;

/**
 * Registers routes on a uWS app. Counts in-flight requests (for draining) and
 * turns anything a handler throws into a coded error response.
 * Invariant: no exception leaves a uWS callback. An exception escaping into uWS ends the
 * process, so every callback here ends in a last-resort guard that answers 500, logs the
 * cause and counts it.
 */
export class Router {
  inFlight = 0;
  draining = false;
  private readonly registered: RouteEntry[] = [];

  constructor(private readonly app: TemplatedApp, private readonly metrics?: ModelMetrics, private readonly log?: RouteLog, readonly access = new AccessPolicy()) {
    // CORS preflight: answered for allowed origins, 204 without CORS headers (refused by the browser) otherwise.
    app.options('/*', (res: HttpResponse, req: HttpRequest) => {
      guarded(res, 'preflight', this.log, this.metrics, () => {
        const ex = new HttpExchange(res, req, 0, HEADERS);
        ex.send(204, '', this.access.preflightHeaders(ex.header('origin')) ?? {});
      });
    });
  }

  add(method: 'get' | 'post', pattern: string, handler: Handler, opts: RouteOptions = {}): void {
    this.registered.push({ method, pattern });
    const paramCount = (pattern.match(/:/g) ?? []).length;
    this.app[method](pattern, (res: HttpResponse, req: HttpRequest) => {
      guarded(res, pattern, this.log, this.metrics, () => {
        const ex = new HttpExchange(res, req, paramCount, HEADERS);
        ex.responseHeaders = this.access.corsHeaders(ex.header('origin'));
        void this.run(ex, pattern, handler, opts);
      });
    });
  }

  /** Every route added, in order (the OpenAPI test walks them); not the OPTIONS preflight nor the 404 fallback. */
  routes(): readonly RouteEntry[] {
    return this.registered;
  }

  /**
   * Counts a request of another transport (gRPC) in flight while `fn` runs: draining waits
   * for it, as for HTTP requests.
   */
  async track<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight += 1;
    try {
      return await fn();
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Unknown routes: 404 with the usual error body. */
  fallback(): void {
    this.app.any('/*', (res: HttpResponse, req: HttpRequest) => {
      guarded(res, 'unknown', this.log, this.metrics, () => {
        const ex = new HttpExchange(res, req, 0, HEADERS);
        ex.responseHeaders = this.access.corsHeaders(ex.header('origin'));
        ex.error(new InferaError('ENG_ERR_ROUTE_NOT_FOUND', `${ex.method} ${ex.url.slice(0, 256)}`));
        this.metrics?.http.inc({ route: 'unknown', status: String(ex.status) });
      });
    });
  }

  private async run(ex: HttpExchange, pattern: string, handler: Handler, opts: RouteOptions): Promise<void> {
    this.inFlight += 1;
    try {
      if (opts.dataPlane && this.draining) throw new InferaError('ENG_ERR_SHUTTING_DOWN', undefined, { retryAfterS: 1 });
      if (opts.dataPlane) this.access.checkApiKey(ex);
      await handler(ex);
    } catch (e) {
      try {
        const err = ex.error(e);
        if (err.status >= 500 && err.code === 'ENG_ERR_INTERNAL') this.log?.({ route: pattern, url: ex.url.slice(0, 256), err: logDetail(err) }, 'request failed');
      } catch (e2) {
        this.log?.({ route: pattern, err: String(e2) }, 'error response failed');
      }
    } finally {
      this.inFlight -= 1;
      this.metrics?.http.inc({ route: pattern, status: String(ex.status || 499) });
    }
  }
}

/**
 * Runs a uWS callback so that nothing it throws reaches uWS: a throw is answered with
 * 500 ENG_ERR_INTERNAL (when nothing was sent yet), logged and counted.
 */
export function guarded(res: HttpResponse, route: string, log: RouteLog | undefined, metrics: ModelMetrics | undefined, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    log?.({ route, err: logDetail(toInferaError(e)) }, 'request failed outside its handler');
    metrics?.http.inc({ route, status: '500' });
    try {
      res.cork(() => {
        res.writeStatus('500 Internal Server Error').writeHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ code: 'ENG_ERR_INTERNAL', error: 'internal error' }), true);
      });
    } catch {
      // The response was already ended or aborted: nothing more to tell the client.
    }
  }
}
