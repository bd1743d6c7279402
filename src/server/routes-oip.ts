import { decodeInferRequest, encodeInferResponse } from '../protocol/oip-codec';
import { parseVersionSelector } from '../repository/paths';
import { requireAdmin } from './admin-auth';
import { HttpExchange } from './http-exchange';
import { EXTENSIONS, OipService } from './oip-service';
import { Router } from './router';
import type { ProcessPlace } from './process-peers';

export interface OipContext {
  service: OipService;
  router: Router;
  maxBodyBytes: number;
  adminToken?: string;
  serverVersion: string;
  ready: () => boolean;
  /** The shared services this replica uses (database, cache) and their state: degraded ones never make it unready. */
  dependencies?: () => Record<string, { state: string }>;
  /** JSON bodies below this many bytes are scanned on the event loop. */
  syncParseBelowBytes?: number;
  /** This process's place in a group of serving processes (`--processes N`), reported by readiness. */
  process?: ProcessPlace;
}

/** Registers the Open Inference Protocol v2 REST routes and its repository and statistics extensions. */
export function registerOipRoutes(ctx: OipContext): void {
  const { service, router } = ctx;
  const versionOf = (ex: HttpExchange, i: number) => (ex.params[i] === undefined ? undefined : parseVersionSelector(ex.params[i]));

  router.add('get', '/v2', (ex) => ex.json(200, { name: 'infera', version: ctx.serverVersion, extensions: EXTENSIONS }));
  router.add('get', '/v2/health/live', (ex) => ex.json(200, { live: true }));
  router.add('get', '/v2/health/ready', (ex) => {
    // Readiness is inference: a lost database or cache degrades monitoring, not serving, and
    // is reported here (and in infera_database_up) without taking the replica out of rotation.
    const dependencies = ctx.dependencies?.() ?? {};
    const body = { ready: true, ...(Object.keys(dependencies).length ? { dependencies } : {}), ...(ctx.process ? { process: ctx.process } : {}) };
    if (ctx.ready()) ex.json(200, body);
    else ex.json(503, { code: 'ENG_ERR_NOT_READY', error: 'server is not ready' }, { 'Retry-After': '1' });
  });

  const metadata = (withVersion: boolean) => (ex: HttpExchange) => ex.json(200, service.metadata(ex.params[0], withVersion ? versionOf(ex, 1) : undefined));
  router.add('get', '/v2/models/:model', metadata(false));
  router.add('get', '/v2/models/:model/versions/:version', metadata(true));

  const modelReady = (withVersion: boolean) => (ex: HttpExchange) => {
    const r = service.modelReady(ex.params[0], withVersion ? versionOf(ex, 1) : undefined);
    // OIP: a 4xx says "not ready"; unknown models stay 404.
    if (r.ready) ex.json(200, { name: ex.params[0], ready: true });
    else ex.json(400, { code: r.error!.code, error: r.error!.message });
  };
  router.add('get', '/v2/models/:model/ready', modelReady(false));
  router.add('get', '/v2/models/:model/versions/:version/ready', modelReady(true));

  const infer = (withVersion: boolean) => (ex: HttpExchange) =>
    service.infer(
      { model: ex.params[0], version: withVersion ? versionOf(ex, 1) : undefined, routingKey: ex.header('x-routing-key') },
      async (mv) => {
        const headerLength = ex.header('inference-header-content-length');
        ex.checkMediaType(headerLength !== undefined);
        const body = await ex.body(ctx.maxBodyBytes, Number(headerLength ?? 0) || 0);
        return decodeInferRequest(body, { inferenceHeaderLength: headerLength }, mv.inputTypes, { syncParseBelowBytes: ctx.syncParseBelowBytes });
      },
      (mv, req, outputs) => {
        const binary = new Map(req.outputs.map((o) => [o.name, o.binary]));
        const enc = encodeInferResponse(mv.name, mv.version, req.id, outputs, (n) => binary.get(n) ?? req.binaryOutput);
        const headers: Record<string, string> = { 'Content-Type': enc.inferenceHeaderLength === undefined ? 'application/json' : 'application/octet-stream' };
        if (enc.inferenceHeaderLength !== undefined) headers['Inference-Header-Content-Length'] = String(enc.inferenceHeaderLength);
        ex.send(200, enc.body, headers);
      },
    );
  router.add('post', '/v2/models/:model/infer', infer(false), { dataPlane: true });
  router.add('post', '/v2/models/:model/versions/:version/infer', infer(true), { dataPlane: true });

  router.add('get', '/v2/models/stats', async (ex) => ex.json(200, { model_stats: await service.stats() }));
  router.add('get', '/v2/models/:model/stats', async (ex) => ex.json(200, { model_stats: await service.stats(ex.params[0]) }));
  router.add('get', '/v2/models/:model/versions/:version/stats', async (ex) => ex.json(200, { model_stats: await service.stats(ex.params[0], versionOf(ex, 1)) }));

  router.add('post', '/v2/repository/index', (ex) => ex.json(200, service.index()));
  router.add('post', '/v2/repository/models/:model/load', async (ex) => {
    requireAdmin(ex, ctx.adminToken);
    await service.load(ex.params[0]);
    ex.json(200, {});
  });
  router.add('post', '/v2/repository/models/:model/unload', async (ex) => {
    requireAdmin(ex, ctx.adminToken);
    await service.unload(ex.params[0]);
    ex.json(200, {});
  });
}
