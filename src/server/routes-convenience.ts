import { AggregatorRegistry, MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { failureOutcome, versionRequestMetrics, type ModelMetrics } from '../monitoring/metrics';
import type { HubThread } from '../monitoring/thread/hub-thread';
import { InferaError, toInferaError } from '../errors';
import { featuresToInputs, outputToPrediction, Prediction, readPredictRows } from '../protocol/predict-codec';
import { checkRanges } from '../protocol/feature-ranges';
import { ModelRepository } from '../repository/model-repository';
import { checkModelName, parseVersionSelector } from '../repository/paths';
import type { ModelVersion } from '../serving/model-version';
import { SHADOW_MAX_BATCH_ROWS, shadowQueues } from '../rollout/shadow-queue';
import type { BackgroundRunner } from '../runtime/background-runner';
import type { Tensor } from '../protocol/datatypes';
import { requireAdmin } from './admin-auth';
import type { PredictionCache } from './prediction-cache';
import { RequestIds } from './request-id';
import { Router } from './router';
import type { OnlineFeatureStore } from '../features/online-store';
import { withOnlineFeatures } from './routes-features';
import type { ProcessPeers } from './process-peers';

export interface ConvenienceContext {
  repository: ModelRepository;
  router: Router;
  registry: Registry;
  /** This process's metrics as prom-client JSON: the registry's and the monitoring thread's. */
  localMetrics: () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  metrics?: ModelMetrics;
  /** Sees every prediction (drift, prediction log, live quality). */
  monitoring?: HubThread;
  maxBodyBytes: number;
  adminToken?: string;
  /** The /predict result cache (in-process LRU or a shared store). */
  cache: PredictionCache;
  /** The model /predict serves when a request names none. */
  defaultPredictModel?: string;
  /** Online feature values joined into the rows of versions that declare them. */
  online: OnlineFeatureStore;
  ready: () => boolean;
  /** Reloads the repository from disk and clears the /predict result cache, in every serving process. */
  reload: () => Promise<void>;
  /** Where shadow runs execute: off the event loop, at idle CPU priority. */
  background: BackgroundRunner;
  /** The other serving processes (`--processes N`): /metrics answers for all of them. */
  peers?: ProcessPeers;
}

/** The model /predict serves when none is named: the configured one, else the only one with a `predict` section. */
function defaultPredictModel(repository: ModelRepository, configured?: string): string {
  if (configured) return configured;
  const candidates = repository.list().filter((m) => m.config?.predict);
  if (candidates.length === 1) return candidates[0].name;
  throw new InferaError('ENG_ERR_BAD_REQUEST', `name the model: 'model' must be one of ${candidates.map((m) => `'${m.name}'`).join(', ') || '(no model declares predict)'} (or start the server with --default-model)`);
}

/** The API shape ML engineers know from Python model servers. */
export function registerConvenienceRoutes(ctx: ConvenienceContext): void {
  const { repository, router } = ctx;
  const { cache } = ctx;
  const requestIds = new RequestIds();

  /**
   * Shadow mode: the same rows on the candidate after the client has its answer, batched with
   * other shadowed requests (src/rollout/shadow-queue.ts); the outputs feed the candidate's
   * monitoring and the prediction log next to stable's, never the client.
   */
  interface ShadowRows {
    rows: number;
    features: Record<string, unknown>[];
    ids: string[];
  }
  const shadowQueue = shadowQueues<ModelVersion, ShadowRows>({
    run: (v, batch) => runShadow(v, batch),
    dropped: (v) => ctx.metrics?.shadowRequests.inc({ model: v.name, version: String(v.version), outcome: 'dropped' }),
  });
  /** Sends the batch's rows now (serialized at once: the rows are garbage before the answer comes). */
  const runShadow = (mv: ModelVersion, batch: ShadowRows[]): Promise<void> => {
    const started = performance.now();
    const size = mv.config.max_batch_size > 0 ? mv.config.max_batch_size : SHADOW_MAX_BATCH_ROWS;
    let outs: Promise<Tensor[]>;
    try {
      const rows = withOnlineFeatures(ctx.online, mv, batch.flatMap((b) => b.features), ctx.metrics);
      // The candidate's transform and run, in the background process at idle priority.
      outs = ctx.background.predict(mv, rows, mv.config.predict!.output, size);
    } catch (e) {
      outs = Promise.reject(e);
    }
    return shadowAnswered(mv, outs, batch.map((b) => b.ids), size, started);
  };
  /** The candidate's answers to one batch: its monitoring and prediction log, under stable's ids. */
  const shadowAnswered = async (mv: ModelVersion, answer: Promise<Tensor[]>, ids: string[][], size: number, started: number): Promise<void> => {
    const labels = { model: mv.name, version: String(mv.version) };
    let outs: Tensor[];
    try {
      outs = await answer;
    } catch {
      ctx.metrics?.shadowRequests.inc({ ...labels, outcome: 'error' }, ids.length);
      for (let k = 0; k < ids.length; k++) ctx.monitoring?.observeError(mv.name, mv.version);
      return;
    }
    const p = mv.config.predict!;
    const total = ids.reduce((n, r) => n + r.length, 0);
    const predictions: number[] = [];
    outs.forEach((out, j) => {
      const n = Math.min(size, total - j * size);
      for (let k = 0; k < n; k++) {
        const q = outputToPrediction(p, out, k, n);
        predictions.push(q.probabilities ? q.probabilities[q.probabilities.length - 1] : Number(q.prediction));
      }
    });
    const latencyMs = performance.now() - started;
    ctx.metrics?.shadowRequests.inc({ ...labels, outcome: 'success' }, ids.length);
    let at = 0;
    for (const requestIds of ids) {
      // Logged under the same ids as stable's answers: one label joins both (per-version AUC,
      // agreement). Without the rows: they are stable's, whose monitor already counts them and
      // whose log row holds them (half the monitoring cost of a shadow run, measured).
      ctx.monitoring?.observe(mv.name, mv.version, { ids: requestIds, predictions: predictions.slice(at, (at += requestIds.length)), latencyMs });
    }
  };

  router.add('post', '/predict', async (ex) => {
    const started = performance.now();
    const body = await ex.jsonBody(ctx.maxBodyBytes);
    const name = body.model === undefined ? defaultPredictModel(repository, ctx.defaultPredictModel) : checkModelName(String(body.model));
    let version: number | string | undefined;
    if (body.model_version !== undefined) {
      const v = body.model_version;
      version = typeof v === 'string' && v.startsWith('@') ? parseVersionSelector(v) : Number(v);
      if (typeof version === 'number' && (!Number.isInteger(version) || version < 1)) throw new InferaError('ENG_ERR_BAD_REQUEST', "'model_version' must be a positive integer or '@alias'");
    }
    const routingKey = typeof body.routing_key === 'string' ? body.routing_key : ex.header('x-routing-key');
    const { rows: sent, ids: given, single } = readPredictRows(body);
    if (body.return_online_features !== undefined && typeof body.return_online_features !== 'boolean') throw new InferaError('ENG_ERR_BAD_REQUEST', "'return_online_features' must be true or false");
    const { mv, release, shadow } = repository.lease(name, version, routingKey);
    // Counted as OIP infer is (requests, in flight, queue wait, latency): dashboards, the
    // shipped Prometheus rules and the autoscaler's in-flight metric see /predict too.
    const labelsOf = () => ({ model: mv.name, version: String(mv.version) });
    const counted = ctx.metrics ? versionRequestMetrics(ctx.metrics, mv.name, mv.version) : undefined;
    counted?.pending.inc();
    try {
      const p = mv.config.predict;
      if (!p) throw new InferaError('ENG_ERR_UNSUPPORTED', `model '${name}' declares no 'predict' section in model.json`);
      // The rows as the model sees them: with its online features, as of each row's time.
      const rows = withOnlineFeatures(ctx.online, mv, sent, ctx.metrics);
      const range = mv.featureRanges ? checkRanges(rows, mv.featureRanges, p.out_of_range) : undefined;
      if (range && ctx.metrics) for (const feature in range.counts) ctx.metrics.outOfRange.inc({ ...labelsOf(), feature }, range.counts[feature]);
      const warnings = range?.warnings.length ? range.warnings : undefined;
      const run = async (part: Record<string, unknown>[]): Promise<Prediction[]> => {
        const { inputs, unknownCategories } = featuresToInputs(mv.config, part, mv.featureSpec);
        if (unknownCategories > 0) ctx.metrics?.unknownCategories.inc(labelsOf(), unknownCategories);
        try {
          const r = await mv.infer({ inputs, outputs: [p.output] });
          counted?.queueSeconds.observe(r.queueMs / 1000);
          return part.map((_, i) => outputToPrediction(p, r.outputs[0], i, part.length));
        } catch (e) {
          if (toInferaError(e).status >= 500) ctx.monitoring?.observeError(mv.name, mv.version);
          throw e;
        }
      };
      let preds: Prediction[];
      let fromCache = false;
      if (single) {
        // One row: answered from the result cache when the same features were seen (by this
        // version, on this replica or, with a shared cache, on any). The in-process cache
        // answers synchronously: no await on the hot path.
        const key = cache.keyOf(mv, rows[0]);
        let hit = key === undefined ? undefined : cache.get(key);
        if (hit instanceof Promise) hit = await hit;
        fromCache = hit !== undefined;
        preds = hit ? [hit] : await run(rows);
        if (!hit && key !== undefined) cache.set(key, preds[0]);
      } else {
        // Many rows: chunks of at most max_batch_size, submitted together so the batcher
        // can run them side by side; the answers keep the order of `instances`.
        const size = mv.config.max_batch_size > 0 ? mv.config.max_batch_size : rows.length;
        const parts: Promise<Prediction[]>[] = [];
        for (let i = 0; i < rows.length; i += size) parts.push(run(rows.slice(i, i + size)));
        preds = (await Promise.all(parts)).flat();
      }
      // The ids join delayed ground truth (POST /v2/models/{m}/feedback) to these predictions.
      const ids = given ?? rows.map(() => requestIds.next());
      ctx.monitoring?.observe(mv.name, mv.version, {
        rows,
        predictions: preds.map((q) => (q.probabilities ? q.probabilities[q.probabilities.length - 1] : Number(q.prediction))),
        ids,
        latencyMs: performance.now() - started,
      });
      // On request, the online feature values each row was predicted with. Fields left
      // undefined are not written (JSON.stringify): one object literal per answer, no spreads.
      const onlineNames = body.return_online_features === true ? mv.featureSpec?.online?.features.map((f) => f.name) : undefined;
      const onlineOf = (i: number) => (onlineNames ? Object.fromEntries(onlineNames.map((n) => [n, rows[i][n]])) : undefined);
      const modelVersion = String(mv.version);
      const processingMs = Math.round((performance.now() - started) * 1000) / 1000;
      if (single) {
        const q = preds[0];
        ex.json(200, {
          id: ids[0], prediction: q.prediction, confidence: q.confidence, probabilities: q.probabilities, online_features: onlineOf(0),
          model: mv.name, model_version: modelVersion, processing_time_ms: processingMs, from_cache: fromCache, warnings,
        });
      } else {
        ex.json(200, {
          predictions: preds.map((q, i) => ({ id: ids[i], prediction: q.prediction, confidence: q.confidence, probabilities: q.probabilities, online_features: onlineOf(i) })),
          model: mv.name, model_version: modelVersion, processing_time_ms: processingMs, warnings,
        });
      }
      if (shadow) shadowQueue(shadow).offer({ rows: sent.length, features: sent, ids });
      counted?.success.inc();
      counted?.requestSeconds.observe((performance.now() - started) / 1000);
    } catch (e) {
      ctx.metrics?.requests.inc({ ...labelsOf(), outcome: failureOutcome(toInferaError(e).status) });
      throw e;
    } finally {
      release();
      counted?.pending.dec();
    }
  }, { dataPlane: true });

  router.add('get', '/health', (ex) => {
    const models = Object.fromEntries(repository.list().map((m) => [m.name, m.state]));
    // A degraded cache shows here and in infera_cache_up, never in readiness: inference does not need it.
    const health = { models, cache: cache.health() };
    if (ctx.ready()) ex.json(200, { status: 'ok', ...health });
    else ex.json(503, { code: 'ENG_ERR_NOT_READY', error: 'server is not ready', status: 'unavailable', ...health });
  });

  router.add('get', '/models', (ex) => {
    ex.json(200, {
      models: repository.list().map((m) => ({
        name: m.name,
        state: m.state,
        reason: m.reason,
        backend: m.config?.backend,
        max_batch_size: m.config?.max_batch_size,
        predict: m.config?.predict ? { features: m.config.predict.features.map((f) => f.name), task: m.config.predict.task } : undefined,
        versions: [...m.versions.values()].map((v) => ({ version: String(v.version), state: v.state, reason: v.reason })),
      })),
    });
  });

  router.add('get', '/metrics', async (ex) => {
    // One process: its registry and its monitoring thread's, merged (disjoint series).
    const text = ctx.peers ? await ctx.peers.metrics() : await AggregatorRegistry.aggregate([await ctx.localMetrics()]).metrics();
    ex.send(200, text, { 'Content-Type': ctx.registry.contentType });
  });

  router.add('post', '/reload', async (ex) => {
    requireAdmin(ex, ctx.adminToken);
    await ctx.reload();
    ex.json(200, { models: repository.list().map((m) => ({ name: m.name, state: m.state, reason: m.reason })) });
  });
}
