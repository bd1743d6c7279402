import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Per-model metrics, labelled by model and version. The Registry is injected. */
export interface ModelMetrics {
  requests: Counter<'model' | 'version' | 'outcome'>;
  queueSeconds: Histogram<'model' | 'version'>;
  computeSeconds: Histogram<'model' | 'version'>;
  requestSeconds: Histogram<'model' | 'version'>;
  batchSize: Histogram<'model' | 'version'>;
  pending: Gauge<'model' | 'version'>;
  rejected: Counter<'model' | 'version' | 'reason'>;
  http: Counter<'route' | 'status'>;
}

export function createMetrics(registry: Registry, opts: { defaultMetrics?: boolean } = {}): ModelMetrics {
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'infera_process_' });
  const registers = [registry];
  return {
    requests: new Counter({ name: 'infera_inference_requests_total', help: 'Inference requests by outcome (success, client_error, unavailable, error).', labelNames: ['model', 'version', 'outcome'], registers }),
    queueSeconds: new Histogram({ name: 'infera_queue_duration_seconds', help: 'Time a request waited in the batch queue.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers }),
    computeSeconds: new Histogram({ name: 'infera_compute_duration_seconds', help: 'Time to assemble, run and split one batch.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers }),
    requestSeconds: new Histogram({ name: 'infera_request_duration_seconds', help: 'End-to-end inference latency inside the server, decode to encode.', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers }),
    batchSize: new Histogram({ name: 'infera_batch_size', help: 'Rows per executed batch.', labelNames: ['model', 'version'], buckets: BATCH_BUCKETS, registers }),
    pending: new Gauge({ name: 'infera_pending_requests', help: 'Requests queued or running.', labelNames: ['model', 'version'], registers }),
    rejected: new Counter({ name: 'infera_rejected_requests_total', help: 'Requests rejected by the batcher (queue_full, timeout, shutdown).', labelNames: ['model', 'version', 'reason'], registers }),
    http: new Counter({ name: 'infera_http_responses_total', help: 'HTTP responses by route and status.', labelNames: ['route', 'status'], registers }),
  };
}
