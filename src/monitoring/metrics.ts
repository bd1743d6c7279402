import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** infera_inference_requests_total's outcome label for a request that failed with this HTTP status. */
export function failureOutcome(status: number): 'client_error' | 'unavailable' | 'error' {
  return status < 500 ? 'client_error' : status === 503 ? 'unavailable' : 'error';
}

/**
 * One model version's request metrics with their labels bound: prom-client hashes a labels
 * object on every inc/observe, and a request updates five series.
 */
export interface VersionRequestMetrics {
  success: { inc(): void };
  queueSeconds: { observe(v: number): void };
  requestSeconds: { observe(v: number): void };
  pending: { inc(): void; dec(): void };
}

const boundByVersion = new WeakMap<ModelMetrics, Map<string, VersionRequestMetrics>>();

export function versionRequestMetrics(m: ModelMetrics, model: string, version: number | string): VersionRequestMetrics {
  let byKey = boundByVersion.get(m);
  if (!byKey) boundByVersion.set(m, (byKey = new Map()));
  const key = `${model}\u0000${version}`;
  let v = byKey.get(key);
  if (!v) {
    const labels = { model, version: String(version) };
    byKey.set(key, (v = {
      success: m.requests.labels({ ...labels, outcome: 'success' }),
      queueSeconds: m.queueSeconds.labels(labels),
      requestSeconds: m.requestSeconds.labels(labels),
      pending: m.pending.labels(labels),
    }));
  }
  return v;
}

/** Per-model metrics, labelled by model and version. The Registry is injected. */
export interface ModelMetrics {
  requests: Counter<'model' | 'version' | 'outcome'>;
  queueSeconds: Histogram<'model' | 'version'>;
  computeSeconds: Histogram<'model' | 'version'>;
  requestSeconds: Histogram<'model' | 'version'>;
  batchSize: Histogram<'model' | 'version'>;
  executions: Counter<'model' | 'version' | 'site'>;
  pending: Gauge<'model' | 'version'>;
  rejected: Counter<'model' | 'version' | 'reason'>;
  sequences: Gauge<'model' | 'version'>;
  streams: Gauge<'model'>;
  http: Counter<'route' | 'status'>;
  grpc: Counter<'method' | 'code'>;
  unknownCategories: Counter<'model' | 'version'>;
  outOfRange: Counter<'model' | 'version' | 'feature'>;
  shadowRequests: Counter<'model' | 'version' | 'outcome'>;
  shadowIdlePriority: Gauge<'thread'>;
  servingProcesses: Gauge;
  onlineDefaults: Counter<'model' | 'version' | 'feature' | 'reason'>;
  onlineEvents: Counter<'source' | 'outcome'>;
}

export function createMetrics(registry: Registry, opts: { defaultMetrics?: boolean } = {}): ModelMetrics {
  if (opts.defaultMetrics) {
    // The standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, ...), as
    // every Node exporter and Prometheus' own process collector spell them. prom-client's
    // three *_total gauges break the naming rules (promtool: "non-counter metrics should not
    // have _total suffix") and repeat nodejs_active_{handles,requests,resources} summed.
    collectDefaultMetrics({ register: registry });
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  return {
    requests: new Counter({ name: 'infera_inference_requests_total', help: 'Inference requests by outcome (success, client_error, unavailable, error).', labelNames: ['model', 'version', 'outcome'], registers }),
    queueSeconds: new Histogram({ name: 'infera_queue_duration_seconds', help: 'Time a request waited in the batch queue.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers }),
    computeSeconds: new Histogram({ name: 'infera_compute_duration_seconds', help: 'Time to assemble, run and split one batch.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers }),
    requestSeconds: new Histogram({ name: 'infera_request_duration_seconds', help: 'End-to-end inference latency inside the server, decode to encode.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers }),
    batchSize: new Histogram({ name: 'infera_batch_size', help: 'Rows per executed batch.', labelNames: ['model', 'version'], buckets: BATCH_BUCKETS, registers }),
    executions: new Counter({ name: 'infera_batch_executions_total', help: 'Batches executed, by site: inline on the event loop or in the worker pool.', labelNames: ['model', 'version', 'site'], registers }),
    pending: new Gauge({ name: 'infera_pending_requests', help: 'Requests queued or running.', labelNames: ['model', 'version'], registers }),
    rejected: new Counter({ name: 'infera_rejected_requests_total', help: 'Requests rejected by the batcher (queue_full, timeout, shutdown, overloaded).', labelNames: ['model', 'version', 'reason'], registers }),
    sequences: new Gauge({ name: 'infera_live_sequences', help: 'Sequences holding state in the sequence batcher.', labelNames: ['model', 'version'], registers }),
    streams: new Gauge({ name: 'infera_open_streams', help: 'Open WebSocket streams.', labelNames: ['model'], registers }),
    http: new Counter({ name: 'infera_http_responses_total', help: 'HTTP responses by route and status.', labelNames: ['route', 'status'], registers }),
    grpc: new Counter({ name: 'infera_grpc_responses_total', help: 'gRPC answers by method and status code name (stream messages count one each).', labelNames: ['method', 'code'], registers }),
    shadowRequests: new Counter({ name: 'infera_shadow_requests_total', help: 'Requests mirrored to a shadow candidate after the client was answered, by outcome.', labelNames: ['model', 'version', 'outcome'], registers }),
    shadowIdlePriority: new Gauge({ name: 'infera_shadow_idle_priority', help: "1 when the process of shadow runs got idle CPU priority on every thread (Linux SCHED_IDLE: it uses only time serving leaves), 0 when it runs at normal priority and competes with serving; absent before the first shadow run.", labelNames: ['thread'], registers, aggregator: 'min' }),
    // Each process sets 1; with `--processes N`, /metrics sums them: the processes whose metrics the answer holds.
    servingProcesses: new Gauge({ name: 'infera_serving_processes', help: 'Serving processes whose metrics this answer aggregates (--processes; 1 for a single process).', registers }),
    outOfRange: new Counter({ name: 'infera_out_of_range_features_total', help: 'Numeric /predict features outside their training range (min and max in the card.json profile).', labelNames: ['model', 'version', 'feature'], registers }),
    onlineDefaults: new Counter({ name: 'infera_online_feature_defaults_total', help: 'Online feature values /predict filled with the declared default, by reason: missing (no event of the entity in the window) or stale (the source has no recent event, or the window reaches before the retained events).', labelNames: ['model', 'version', 'feature', 'reason'], registers }),
    onlineEvents: new Counter({ name: 'infera_online_events_total', help: 'Events ingested into an online feature source, by outcome: accepted or too_old (before the retained window).', labelNames: ['source', 'outcome'], registers }),
    unknownCategories: new Counter({ name: 'infera_unknown_categories_total', help: 'Categorical values /predict sent to the unknown bucket (e.g. airports unseen in training).', labelNames: ['model', 'version'], registers }),
  };
}

/** Model-monitoring metrics (drift, live quality, alerts), labelled by model and version. */
export interface MonitoringMetrics {
  driftScore: Gauge<'model' | 'version' | 'window' | 'column' | 'test'>;
  driftDetected: Gauge<'model' | 'version' | 'window' | 'column'>;
  driftShare: Gauge<'model' | 'version' | 'window'>;
  liveAuc: Gauge<'model' | 'version' | 'window'>;
  liveAccuracy: Gauge<'model' | 'version' | 'window'>;
  liveLogLoss: Gauge<'model' | 'version' | 'window'>;
  liveEce: Gauge<'model' | 'version' | 'window'>;
  observedRows: Counter<'model' | 'version'>;
  droppedRows: Counter<'model' | 'version' | 'reason'>;
  feedback: Counter<'model' | 'outcome'>;
  alertsFired: Counter<'model' | 'version' | 'rule'>;
  alertsSuppressed: Counter<'model' | 'version' | 'rule'>;
  webhookDeliveries: Counter<'outcome'>;
}

export function createMonitoringMetrics(registry: Registry): MonitoringMetrics {
  const registers = [registry];
  const mv = ['model', 'version'] as const;
  const w = ['model', 'version', 'window'] as const;
  return {
    driftScore: new Gauge({ name: 'infera_drift_score', help: 'Drift score of a column in the last closed window (p-value or distance, see test).', labelNames: [...w, 'column', 'test'], registers, aggregator: 'average' }),
    driftDetected: new Gauge({ name: 'infera_drift_detected', help: '1 when the column drifted in the last closed window.', labelNames: [...w, 'column'], registers, aggregator: 'max' }),
    driftShare: new Gauge({ name: 'infera_drift_share', help: 'Share of drifted input columns in the last closed window.', labelNames: w, registers, aggregator: 'max' }),
    liveAuc: new Gauge({ name: 'infera_live_auc', help: 'ROC AUC of labelled predictions in the last window with enough labels.', labelNames: w, registers, aggregator: 'average' }),
    liveAccuracy: new Gauge({ name: 'infera_live_accuracy', help: "Accuracy at the card's threshold, last window with enough labels.", labelNames: w, registers, aggregator: 'average' }),
    liveLogLoss: new Gauge({ name: 'infera_live_log_loss', help: 'Log loss of labelled predictions, last window with enough labels.', labelNames: w, registers, aggregator: 'average' }),
    liveEce: new Gauge({ name: 'infera_live_ece', help: 'Expected calibration error (10 bins), last window with enough labels.', labelNames: w, registers, aggregator: 'average' }),
    observedRows: new Counter({ name: 'infera_monitored_rows_total', help: 'Prediction rows profiled by the monitoring hub.', labelNames: mv, registers }),
    droppedRows: new Counter({ name: 'infera_monitoring_dropped_rows_total', help: 'Rows not profiled (queue_full, late, invalid, thread_down).', labelNames: [...mv, 'reason'], registers }),
    feedback: new Counter({ name: 'infera_feedback_labels_total', help: 'Ground-truth labels received (matched, unknown id, invalid).', labelNames: ['model', 'outcome'], registers }),
    alertsFired: new Counter({ name: 'infera_alerts_fired_total', help: 'Alerts sent to the sinks.', labelNames: [...mv, 'rule'], registers }),
    alertsSuppressed: new Counter({ name: 'infera_alerts_suppressed_total', help: 'Alerts held back by cooldown.', labelNames: [...mv, 'rule'], registers }),
    webhookDeliveries: new Counter({ name: 'infera_alert_webhook_deliveries_total', help: 'Webhook deliveries by outcome (delivered, failed).', labelNames: ['outcome'], registers }),
  };
}

/** The /predict result cache (src/server/prediction-cache.ts), labelled by backend (memory, redis). */
export interface CacheMetrics {
  lookups: Counter<'backend' | 'outcome'>;
  errors: Counter<'backend' | 'operation'>;
  up: Gauge<'backend'>;
}

/** `beforeScrape` brings counts kept outside prom-client up to date (the in-process cache's). */
export function createCacheMetrics(registry: Registry, beforeScrape?: () => void): CacheMetrics {
  const registers = [registry];
  return {
    lookups: new Counter({
      name: 'infera_cache_requests_total', help: 'One-row /predict lookups in the result cache by outcome (hit, miss, error: the store did not answer, the row was computed).', labelNames: ['backend', 'outcome'], registers,
      collect: () => beforeScrape?.(),
    }),
    errors: new Counter({ name: 'infera_cache_errors_total', help: 'Result cache operations that failed (store unreachable, timed out, unreadable value), by operation (get, set).', labelNames: ['backend', 'operation'], registers }),
    up: new Gauge({ name: 'infera_cache_up', help: '1 while the result cache answers, 0 while it is degraded (predictions are then computed without it).', labelNames: ['backend'], registers, aggregator: 'min' }),
  };
}
