import { InferaError } from '../errors';
import { decodeInferRequest, encodeInferResponse } from '../protocol/oip-codec';
import { parseScheduleParameters } from '../protocol/schedule-params';
import { ModelRepository } from '../repository/model-repository';
import { ModelVersion } from '../repository/model-version';
import { checkModelName, parseVersionSelector } from '../repository/paths';
import { shadowQueues } from '../rollout/shadow-queue';
import { requireAdmin } from './admin-auth';
import { HttpExchange } from './http-exchange';
import { Router } from './router';
import type { ModelMetrics } from '../monitoring/metrics';
import type { MonitoringHub } from '../monitoring/hub';
import { numberAt, type Tensor } from '../protocol/datatypes';

export interface OipContext {
  repository: ModelRepository;
  router: Router;
  metrics?: ModelMetrics;
  monitoring?: MonitoringHub;
  maxBodyBytes: number;
  adminToken?: string;
  serverVersion: string;
  ready: () => boolean;
  /** JSON bodies below this many bytes are scanned on the event loop. */
  syncParseBelowBytes?: number;
}

export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'statistics'];

function modelMetadata(mv: ModelVersion, versions: number[]) {
  return {
    name: mv.name,
    versions: versions.map(String),
    platform: 'onnxruntime_onnx',
    inputs: mv.config.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    outputs: mv.config.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
  };
}

function versionStats(mv: ModelVersion) {
  const s = mv.stats;
  return {
    name: mv.name,
    version: String(mv.version),
    last_inference: s.lastInference,
    inference_count: s.inferenceCount,
    execution_count: s.executionCount,
    inference_stats: {
      success: { count: s.successCount, ns: Math.round(s.successNs) },
      fail: { count: s.failCount, ns: Math.round(s.failNs) },
      queue: { count: s.successCount, ns: Math.round(s.queueNs) },
      compute_infer: { count: s.successCount, ns: Math.round(s.computeNs) },
    },
    batch_stats: [...s.batches.entries()].sort((a, b) => a[0] - b[0]).map(([size, b]) => ({ batch_size: size, compute_infer: { count: b.count, ns: Math.round(b.ns) } })),
  };
}

/**
 * Hands an infer response's predictions to monitoring: one value per row of the
 * output /predict reads (the last column: P(positive) for [n, 2]); ids `${id}/${row}`.
 */
function observePredictions(hub: MonitoringHub | undefined, mv: ModelVersion, outputs: Tensor[], id: string | undefined, latencyMs: number): void {
  const name = mv.config.predict?.output;
  const out = hub && name ? outputs.find((t) => t.name === name) : undefined;
  if (!hub || !out || out.shape.length === 0) return;
  const rows = out.shape[0];
  const cols = rows > 0 ? out.data.length / rows : 0;
  if (out.datatype === 'BYTES') return;
  const predictions = Array.from({ length: rows }, (_, i) => numberAt(out, i * cols + cols - 1));
  const ids = id === undefined ? undefined : rows === 1 ? [id] : predictions.map((_, i) => `${id}/${i}`);
  hub.observe(mv.name, mv.version, { predictions, ids, latencyMs });
}

/** Registers the Open Inference Protocol v2 routes and its repository and statistics extensions. */
export function registerOipRoutes(ctx: OipContext): void {
  const { repository, router } = ctx;
  const versionOf = (ex: HttpExchange, i: number) => (ex.params[i] === undefined ? undefined : parseVersionSelector(ex.params[i]));
  const resolve = (ex: HttpExchange, withVersion: boolean) => repository.resolve(checkModelName(ex.params[0]), withVersion ? versionOf(ex, 1) : undefined);

  router.add('get', '/v2', (ex) => ex.json(200, { name: 'infera', version: ctx.serverVersion, extensions: EXTENSIONS }));
  router.add('get', '/v2/health/live', (ex) => ex.json(200, { live: true }));
  router.add('get', '/v2/health/ready', (ex) => {
    if (ctx.ready()) ex.json(200, { ready: true });
    else ex.json(503, { code: 'ENG_ERR_NOT_READY', error: 'server is not ready' }, { 'Retry-After': '1' });
  });

  const metadata = (withVersion: boolean) => (ex: HttpExchange) => {
    const mv = resolve(ex, withVersion);
    const entry = repository.get(mv.name)!;
    ex.json(200, modelMetadata(mv, withVersion ? [mv.version] : [...entry.versions.keys()].sort((a, b) => a - b)));
  };
  router.add('get', '/v2/models/:model', metadata(false));
  router.add('get', '/v2/models/:model/versions/:version', metadata(true));

  const modelReady = (withVersion: boolean) => (ex: HttpExchange) => {
    const name = checkModelName(ex.params[0]);
    try {
      repository.resolve(name, withVersion ? versionOf(ex, 1) : undefined);
      ex.json(200, { name, ready: true });
    } catch (e) {
      // OIP: a 4xx says "not ready"; unknown models stay 404.
      if (e instanceof InferaError && e.status === 503) ex.json(400, { code: e.code, error: e.message });
      else throw e;
    }
  };
  router.add('get', '/v2/models/:model/ready', modelReady(false));
  router.add('get', '/v2/models/:model/versions/:version/ready', modelReady(true));

  /**
   * The candidate's runs of shadowed requests, after the clients have stable's answers: one at a
   * time per candidate, dropped when too many wait (src/rollout/shadow-queue.ts). Requests are
   * run one by one: their tensors may differ in every dimension but the first.
   */
  interface ShadowInfer {
    rows: number;
    inputs: Tensor[];
    outputs: string[];
    id: string | undefined;
    release: () => void;
  }
  const shadowQueue = shadowQueues<ModelVersion, ShadowInfer>({
    run: (v, batch) => runShadow(v, batch),
    whenIdle: (fn) => router.whenIdle(fn),
    dropped: (v) => ctx.metrics?.shadowRequests.inc({ model: v.name, version: String(v.version), outcome: 'dropped' }),
  });
  const runShadow = async (shadow: ModelVersion, batch: ShadowInfer[]): Promise<void> => {
    const labels = { model: shadow.name, version: String(shadow.version) };
    for (const item of batch) {
      const started = performance.now();
      try {
        const r = await shadow.infer({ inputs: item.inputs, outputs: item.outputs });
        ctx.metrics?.shadowRequests.inc({ ...labels, outcome: 'success' });
        observePredictions(ctx.monitoring, shadow, r.outputs, item.id, performance.now() - started);
      } catch {
        ctx.metrics?.shadowRequests.inc({ ...labels, outcome: 'error' });
        ctx.monitoring?.observeError(shadow.name, shadow.version);
      } finally {
        item.release();
      }
    }
  };

  const infer = (withVersion: boolean) => async (ex: HttpExchange) => {
    const started = performance.now();
    // Unversioned requests follow the model's deployment (canary, A/B by X-Routing-Key).
    const { mv, release, shadow } = repository.lease(checkModelName(ex.params[0]), withVersion ? versionOf(ex, 1) : undefined, ex.header('x-routing-key'));
    const labels = { model: mv.name, version: String(mv.version) };
    ctx.metrics?.pending.inc(labels);
    try {
      const headerLength = ex.header('inference-header-content-length');
      ex.checkMediaType(headerLength !== undefined);
      const body = await ex.body(ctx.maxBodyBytes, Number(headerLength ?? 0) || 0);
      const req = await decodeInferRequest(body, { inferenceHeaderLength: headerLength }, mv.inputTypes, { syncParseBelowBytes: ctx.syncParseBelowBytes });
      const sched = parseScheduleParameters(req.parameters);
      // Shadow mode: the candidate gets its own copy of the inputs (the stable run may consume them).
      const mirror = shadow && !sched.sequence ? req.inputs.map((t) => ({ ...t, data: t.data.slice() as typeof t.data })) : null;
      const r = await mv.infer({ inputs: req.inputs, outputs: req.outputs.map((o) => o.name), timeoutMs: req.timeoutMs, priority: sched.priority, sequence: sched.sequence });
      const binary = new Map(req.outputs.map((o) => [o.name, o.binary]));
      const enc = encodeInferResponse(mv.name, mv.version, req.id, r.outputs, (n) => binary.get(n) ?? req.binaryOutput);
      const headers: Record<string, string> = { 'Content-Type': enc.inferenceHeaderLength === undefined ? 'application/json' : 'application/octet-stream' };
      if (enc.inferenceHeaderLength !== undefined) headers['Inference-Header-Content-Length'] = String(enc.inferenceHeaderLength);
      ex.send(200, enc.body, headers);
      observePredictions(ctx.monitoring, mv, r.outputs, req.id, performance.now() - started);
      if (shadow && mirror) shadowQueue(shadow).offer({ rows: mirror[0]?.shape[0] ?? 1, inputs: mirror, outputs: req.outputs.map((o) => o.name), id: req.id, release: shadow.lease() });
      ctx.metrics?.requests.inc({ ...labels, outcome: 'success' });
      ctx.metrics?.queueSeconds.observe(labels, r.queueMs / 1000);
      ctx.metrics?.requestSeconds.observe(labels, (performance.now() - started) / 1000);
    } catch (e) {
      const err = ex.error(e);
      if (err.status >= 500) ctx.monitoring?.observeError(mv.name, mv.version);
      ctx.metrics?.requests.inc({ ...labels, outcome: err.status < 500 ? 'client_error' : err.status === 503 ? 'unavailable' : 'error' });
    } finally {
      release();
      ctx.metrics?.pending.dec(labels);
    }
  };
  router.add('post', '/v2/models/:model/infer', infer(false), { dataPlane: true });
  router.add('post', '/v2/models/:model/versions/:version/infer', infer(true), { dataPlane: true });

  const stats = (scope: 'all' | 'model' | 'version') => (ex: HttpExchange) => {
    let versions: ModelVersion[];
    if (scope === 'version') versions = [resolve(ex, true)];
    else if (scope === 'model') {
      const entry = repository.get(checkModelName(ex.params[0]));
      if (!entry) throw repository.notServed(checkModelName(ex.params[0]));
      versions = [...entry.versions.values()].flatMap((v) => (v.serving ? [v.serving] : []));
    } else versions = repository.list().flatMap((m) => [...m.versions.values()].flatMap((v) => (v.serving ? [v.serving] : [])));
    ex.json(200, { model_stats: versions.map(versionStats) });
  };
  router.add('get', '/v2/models/stats', stats('all'));
  router.add('get', '/v2/models/:model/stats', stats('model'));
  router.add('get', '/v2/models/:model/versions/:version/stats', stats('version'));

  router.add('post', '/v2/repository/index', (ex) => {
    const loaded = new Map(repository.list().map((m) => [m.name, m]));
    const index = repository.scan().flatMap((name) => {
      const m = loaded.get(name);
      if (!m) return [{ name, state: 'UNAVAILABLE', reason: 'unloaded' }];
      if (m.versions.size === 0) return [{ name, state: m.state, reason: m.reason ?? '' }];
      // A quarantined version is loaded but refuses requests: UNAVAILABLE, with why.
      return [...m.versions.values()].map((v) => ({ name, version: String(v.version), state: v.serving?.quarantined ? 'UNAVAILABLE' : v.state, reason: v.serving?.quarantined ?? v.reason ?? '' }));
    });
    ex.json(200, index);
  });
  router.add('post', '/v2/repository/models/:model/load', async (ex) => {
    requireAdmin(ex, ctx.adminToken);
    const entry = await repository.load(checkModelName(ex.params[0]));
    const failed = [...entry.versions.values()].filter((v) => v.state !== 'READY');
    if (entry.state !== 'READY' || failed.length > 0) {
      const reasons = [entry.reason, ...failed.map((v) => `version ${v.version}: ${v.reason ?? v.state}`)].filter(Boolean);
      const serving = [...entry.versions.values()].filter((v) => v.serving).map((v) => v.version);
      const still = serving.length > 0 ? ` (still serving version ${serving.join(', ')})` : '';
      throw new InferaError('ENG_ERR_MODEL_UNAVAILABLE', `failed to load '${entry.name}'${still}: ${reasons.join('; ')}`);
    }
    ex.json(200, {});
  });
  router.add('post', '/v2/repository/models/:model/unload', async (ex) => {
    requireAdmin(ex, ctx.adminToken);
    await repository.unload(checkModelName(ex.params[0]));
    ex.json(200, {});
  });
}
