/**
 * A live profile of one stretch of traffic for one model version: counts on the
 * baseline's bins for every monitored column, the prediction histogram on the baseline's
 * bins plus a fine one (quantiles) and exact moments, latencies, and the time span seen.
 * Sketches merge by addition, so a sliding window is the sum of its panes.
 */
import { binOf } from '../stats/histogram';
import { Baseline, BaselineColumn } from './baseline';
import { Distribution } from './drift-tests';
import { EncodedRows } from './encoder';
import { LatencyHistogram } from './ops';

/** Fine prediction bins over the baseline's prediction range (quantiles to 1/FINE of it). */
export const FINE_BINS = 1000;

export class ProfileSketch {
  rows = 0;
  /** Rows whose value was missing or invalid, per column. */
  readonly missing: Float64Array;
  readonly counts: Float64Array[];
  readonly prediction: Float64Array;
  readonly fine: Float64Array;
  predSum = 0;
  predSumSq = 0;
  predMin = Infinity;
  predMax = -Infinity;
  readonly latency = new LatencyHistogram();
  eventMin = Infinity;
  eventMax = -Infinity;
  arrivalMin = Infinity;
  arrivalMax = -Infinity;
  seqMin = Infinity;
  seqMax = -Infinity;

  constructor(private readonly baseline: Baseline) {
    this.counts = baseline.columns.map((c) => new Float64Array(c.counts.length));
    this.missing = new Float64Array(baseline.columns.length);
    this.prediction = new Float64Array(baseline.prediction.counts.length);
    this.fine = new Float64Array(FINE_BINS);
  }

  /** Adds rows [from, to) of an encoded batch; `seq0` is the sequence number of row 0. */
  add(e: EncodedRows, from: number, to: number, arrivalMs: number, seq0: number): void {
    const k = e.columns;
    const edges = this.baseline.prediction.edges;
    const [lo, hi] = [edges[0], edges[edges.length - 1]];
    for (let r = from; r < to; r++) {
      for (let j = 0; j < k && e.features; j++) {
        const b = e.bins[r * k + j];
        if (b < 0) this.missing[j]++;
        else this.counts[j][b]++;
      }
      const p = e.predictions[r];
      if (Number.isFinite(p)) {
        this.prediction[binOf(edges, p)]++;
        this.fine[Math.min(FINE_BINS - 1, Math.max(0, Math.floor(((p - lo) / (hi - lo)) * FINE_BINS)))]++;
        this.predSum += p;
        this.predSumSq += p * p;
        if (p < this.predMin) this.predMin = p;
        if (p > this.predMax) this.predMax = p;
      }
      const t = e.eventMs[r];
      if (t < this.eventMin) this.eventMin = t;
      if (t > this.eventMax) this.eventMax = t;
    }
    this.rows += to - from;
    if (arrivalMs < this.arrivalMin) this.arrivalMin = arrivalMs;
    if (arrivalMs > this.arrivalMax) this.arrivalMax = arrivalMs;
    this.seqMin = Math.min(this.seqMin, seq0 + from);
    this.seqMax = Math.max(this.seqMax, seq0 + to - 1);
  }

  addLatency(ms: number): void {
    this.latency.add(ms);
  }

  merge(o: ProfileSketch): void {
    this.rows += o.rows;
    this.counts.forEach((c, j) => c.forEach((_, i) => (c[i] += o.counts[j][i])));
    this.missing.forEach((_, j) => (this.missing[j] += o.missing[j]));
    this.prediction.forEach((_, i) => (this.prediction[i] += o.prediction[i]));
    this.fine.forEach((_, i) => (this.fine[i] += o.fine[i]));
    this.latency.merge(o.latency);
    this.predSum += o.predSum;
    this.predSumSq += o.predSumSq;
    for (const [a, b] of [['predMin', 'predMax'], ['eventMin', 'eventMax'], ['arrivalMin', 'arrivalMax'], ['seqMin', 'seqMax']] as const) {
      this[a] = Math.min(this[a], o[a]);
      this[b] = Math.max(this[b], o[b]);
    }
  }

  static mergeAll(baseline: Baseline, parts: ProfileSketch[]): ProfileSketch {
    const s = new ProfileSketch(baseline);
    for (const p of parts) s.merge(p);
    return s;
  }

  get predictionCount(): number {
    return this.prediction.reduce((a, b) => a + b, 0);
  }

  /** The p-quantile of the predictions from the fine histogram (linear within a bin). */
  predictionQuantile(q: number): number {
    const n = this.predictionCount;
    if (n === 0) return NaN;
    const edges = this.baseline.prediction.edges;
    const [lo, hi] = [edges[0], edges[edges.length - 1]];
    const target = q * n;
    let cum = 0;
    for (let i = 0; i < FINE_BINS; i++) {
      if (this.fine[i] > 0 && cum + this.fine[i] >= target) {
        const frac = (target - cum) / this.fine[i];
        const v = lo + ((i + frac) / FINE_BINS) * (hi - lo);
        return Math.min(Math.max(v, this.predMin), this.predMax);
      }
      cum += this.fine[i];
    }
    return this.predMax;
  }

  /** A column's live distribution in the form the drift tests take, beside the baseline's. */
  distributions(j: number): { reference: Distribution; current: Distribution } {
    return pair(this.baseline.columns[j], this.counts[j]);
  }

  predictionDistributions(): { reference: Distribution; current: Distribution } {
    return pair(this.baseline.prediction, this.prediction);
  }
}

function pair(c: BaselineColumn, live: Float64Array): { reference: Distribution; current: Distribution } {
  if (c.kind === 'numeric') {
    return {
      reference: { form: 'histogram', points: c.points, counts: c.counts, std: c.std },
      current: { form: 'histogram', points: c.points, counts: live },
    };
  }
  return {
    reference: { form: 'counts', counts: new Map(c.categories.map((v, i) => [v, c.counts[i]])) },
    current: { form: 'counts', counts: new Map(c.categories.map((v, i) => [v, live[i]])) },
  };
}
