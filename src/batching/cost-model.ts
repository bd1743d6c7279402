/**
 * What a latency-aware batcher learns online about one model version:
 * - the cost of a batch, cost(n) = a·n + b ms, fitted by least squares over the
 *   last `window` executed batches (a: per row, b: fixed per batch);
 * - the gap between request arrivals, as an exponentially weighted mean.
 * Both are plain numbers read by the pure decision functions (snapshot()).
 */
export interface CostSnapshot {
  /** ms per row, ≥ 0. */
  a: number;
  /** ms per batch, ≥ 0. */
  b: number;
  /** Enough batches were seen for predictions. */
  ready: boolean;
  /** Mean ms between arrivals; Infinity until two arrivals were seen. */
  gapMs: number;
  /** When the last request arrived (-Infinity before any). */
  lastArrival: number;
  /** The largest batch in the window (0 or absent before any): predictions beyond it are extrapolations. */
  maxRows?: number;
}

/** The span over which the offered load is measured (overload, not a burst, sheds). */
export const OFFERED_WINDOW_MS = 1_000;
/** Below this much history the offered rate is not judged. */
const MIN_OFFERED_SPAN_MS = 100;

export interface CostModelOptions {
  /** Batches kept for the fit (older ones are forgotten so the model follows the machine). */
  window?: number;
  /** Batches needed before the model predicts. */
  minSamples?: number;
  /** Weight of the newest arrival gap in the running mean. */
  gapAlpha?: number;
}

/** cost(n) of a snapshot. */
export function costMs(m: Pick<CostSnapshot, 'a' | 'b'>, rows: number): number {
  return m.a * rows + m.b;
}

/**
 * Least squares for y = a·x + b with a, b ≥ 0. One distinct x (every batch the same
 * size) says nothing about the slope: cost is then taken as constant (a = 0), which
 * under- rather than over-estimates larger batches, so the policy sheds less, not more.
 */
export function fitLine(xs: readonly number[], ys: readonly number[]): { a: number; b: number } {
  const n = xs.length;
  if (n === 0) return { a: 0, b: 0 };
  let sx = 0, sy = 0;
  for (let i = 0; i < n; i++) { sx += xs[i]; sy += ys[i]; }
  const mx = sx / n, my = sy / n;
  let sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) { sxx += (xs[i] - mx) ** 2; sxy += (xs[i] - mx) * (ys[i] - my); }
  if (sxx === 0) return { a: 0, b: Math.max(0, my) };
  let a = sxy / sxx;
  let b = my - a * mx;
  if (a < 0) return { a: 0, b: Math.max(0, my) };
  if (b < 0) {
    // Refit through the origin: y = a·x.
    let xx = 0, xy = 0;
    for (let i = 0; i < n; i++) { xx += xs[i] * xs[i]; xy += xs[i] * ys[i]; }
    a = xx > 0 ? Math.max(0, xy / xx) : 0;
    b = 0;
  }
  return { a, b };
}

export class CostModel {
  private readonly rows: number[] = [];
  private readonly ms: number[] = [];
  private next = 0;
  private fit = { a: 0, b: 0 };
  /** The largest batch in the window, kept with the fit (snapshot() runs on every batching decision). */
  private maxRows = 0;
  private gapMs = Infinity;
  private lastArrival = -Infinity;
  /** Offered requests (admitted or refused) of the last OFFERED_WINDOW_MS: times and rows. */
  private offeredAt: number[] = [];
  private offeredRows: number[] = [];
  private offeredSum = 0;
  private firstOffered = Infinity;
  private readonly window: number;
  private readonly minSamples: number;
  private readonly gapAlpha: number;

  constructor(opts: CostModelOptions = {}) {
    this.window = opts.window ?? 128;
    this.minSamples = opts.minSamples ?? 3;
    this.gapAlpha = opts.gapAlpha ?? 0.2;
  }

  /** One executed batch: `rows` rows took `ms` ms. */
  observeBatch(rows: number, ms: number): void {
    if (!(rows > 0) || !Number.isFinite(ms) || ms < 0) return;
    if (this.rows.length < this.window) {
      this.rows.push(rows);
      this.ms.push(ms);
    } else {
      this.rows[this.next] = rows;
      this.ms[this.next] = ms;
      this.next = (this.next + 1) % this.window;
    }
    this.fit = fitLine(this.rows, this.ms);
    this.maxRows = Math.max(0, ...this.rows);
  }

  observeArrival(now: number): void {
    if (Number.isFinite(this.lastArrival)) {
      const gap = Math.max(0, now - this.lastArrival);
      this.gapMs = Number.isFinite(this.gapMs) ? this.gapMs + this.gapAlpha * (gap - this.gapMs) : gap;
    }
    this.lastArrival = now;
  }

  /** A request was offered (admitted or not): the load the server is asked to carry. */
  observeOffered(now: number, rows: number): void {
    if (!Number.isFinite(this.firstOffered)) this.firstOffered = now;
    this.offeredAt.push(now);
    this.offeredRows.push(rows);
    this.offeredSum += rows;
    this.pruneOffered(now);
  }

  /**
   * Rows offered per ms over the last OFFERED_WINDOW_MS (over the history so far when it
   * is shorter, but at least MIN_OFFERED_SPAN_MS): 0 before any.
   */
  offeredRowsPerMs(now: number): number {
    this.pruneOffered(now);
    if (this.offeredSum === 0) return 0;
    const span = Math.min(OFFERED_WINDOW_MS, Math.max(MIN_OFFERED_SPAN_MS, now - this.firstOffered));
    return this.offeredSum / span;
  }

  private pruneOffered(now: number): void {
    let k = 0;
    while (k < this.offeredAt.length && this.offeredAt[k] <= now - OFFERED_WINDOW_MS) this.offeredSum -= this.offeredRows[k++];
    if (k > 0) {
      this.offeredAt.splice(0, k);
      this.offeredRows.splice(0, k);
    }
  }

  get samples(): number {
    return this.rows.length;
  }

  snapshot(): CostSnapshot {
    return { a: this.fit.a, b: this.fit.b, ready: this.rows.length >= this.minSamples, gapMs: this.gapMs, lastArrival: this.lastArrival, maxRows: this.maxRows };
  }
}
