/**
 * Request-level health of a model version on the server's clock: requests, errors and a
 * latency histogram over a sliding span (a ring of buckets), for the p99-latency and
 * error-rate alert rules. Latencies fall in log buckets 1 µs · 1.05^k, so a quantile is
 * reported as its bucket's upper bound (at most 5 % high).
 */

const BUCKETS = 512;
const LOG_RATIO = Math.log(1.05);

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  total = 0;

  add(ms: number): void {
    const k = ms <= 0.001 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / 0.001) / LOG_RATIO));
    this.counts[k]++;
    this.total++;
  }

  merge(o: LatencyHistogram): void {
    for (let k = 0; k < BUCKETS; k++) this.counts[k] += o.counts[k];
    this.total += o.total;
  }

  /** Latency (ms) at or below which a share q of the requests fell. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const target = q * this.total;
    let cum = 0;
    for (let k = 0; k < BUCKETS; k++) {
      cum += this.counts[k];
      if (cum >= target) return 0.001 * Math.exp(k * LOG_RATIO);
    }
    return Infinity;
  }
}

interface Bucket {
  key: number;
  errors: number;
  latency: LatencyHistogram;
}

export interface OpsSummary {
  span_ms: number;
  requests: number;
  errors: number;
  error_rate: number;
  p50_ms: number;
  p99_ms: number;
}

export class OpsWindow {
  private readonly ring: Bucket[];
  private readonly bucketMs: number;

  constructor(readonly spanMs: number, private readonly buckets = 60) {
    this.bucketMs = Math.max(1, Math.ceil(spanMs / buckets));
    this.ring = Array.from({ length: buckets }, () => ({ key: -1, errors: 0, latency: new LatencyHistogram() }));
  }

  private bucket(nowMs: number): Bucket {
    const key = Math.floor(nowMs / this.bucketMs);
    const b = this.ring[key % this.buckets];
    if (b.key !== key) {
      b.key = key;
      b.errors = 0;
      b.latency = new LatencyHistogram();
    }
    return b;
  }

  request(nowMs: number, latencyMs: number): void {
    this.bucket(nowMs).latency.add(latencyMs);
  }

  error(nowMs: number): void {
    this.bucket(nowMs).errors++;
  }

  summary(nowMs: number): OpsSummary {
    const newest = Math.floor(nowMs / this.bucketMs);
    const latency = new LatencyHistogram();
    let errors = 0;
    for (const b of this.ring) {
      if (b.key > newest - this.buckets && b.key <= newest) {
        latency.merge(b.latency);
        errors += b.errors;
      }
    }
    const all = latency.total + errors;
    return { span_ms: this.spanMs, requests: latency.total, errors, error_rate: all ? errors / all : 0, p50_ms: latency.quantile(0.5), p99_ms: latency.quantile(0.99) };
  }
}
