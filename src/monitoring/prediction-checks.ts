/**
 * Checks on a window's prediction distribution against the baseline's (the training
 * window's predictions, card.json profile.prediction): the distribution test (as any
 * numeric column), mean shift, spread (std ratio), quantile shifts, low variance
 * (a model stuck near one value) and concentration (most predictions in one bin).
 * The baseline's std and quantiles come from its 20-bin histogram (bin midpoints,
 * linear within a bin); the live ones from exact moments and a 1000-bin histogram.
 */
import { NumericColumn } from './baseline';
import { defaultTest, describePair, isDrift, runTest, TEST_INFO, TestName } from './drift-tests';
import { ProfileSketch } from './sketch';
import { normalTwoSided } from './stats/special';

export interface PredictionCheckOptions {
  test?: TestName;
  threshold?: number;
  /**
   * The mean check fails when the live mean differs from the baseline's significantly (z-test
   * with the baseline's variance, p < mean_alpha, default 0.01) and by at least max_mean_shift (prediction units,
   * default 0.05): the same rule as target drift, so a few rows cannot raise it by chance.
   */
  max_mean_shift?: number;
  mean_alpha?: number;
  /** live std / baseline std outside [1/r, r] fails (default 2). */
  max_std_ratio?: number;
  quantiles?: number[];
  /** |Δ quantile| above this fails (default 0.1). */
  max_quantile_shift?: number;
  /** live std below this is "low variance" (default 0.005). */
  min_std?: number;
  /** More than this share of predictions in one baseline bin is "concentration" (default 0.8). */
  max_bin_share?: number;
}

export interface PredictionCheck {
  check: 'distribution' | 'mean' | 'std' | 'quantile' | 'low_variance' | 'concentration';
  ok: boolean;
  value: number;
  baseline?: number;
  limit: number;
  detail?: string;
}

export interface PredictionReport {
  rows: number;
  mean: number;
  std: number;
  quantiles: Record<string, number>;
  baseline: { mean: number; std: number; quantiles: Record<string, number> };
  test: TestName;
  score: number;
  drifted: boolean;
  /**
   * false when the window is too short to compare with the baseline: a model fed calendar
   * features (day of week) gives a day window a different mix of predictions by design.
   */
  comparable: boolean;
  reason?: string;
  checks: PredictionCheck[];
}

/**
 * z-test of a window's mean against the baseline's under the null hypothesis that the window's
 * predictions come from the baseline's distribution, so both means carry the baseline's
 * variance (estimated from its histogram): se = std₀·√(1/n + 1/n₀). A window's own spread is
 * not used: a few rows can have almost none. Two-sided p.
 */
export function meanShiftTest(mean: number, n: number, baseMean: number, baseStd: number, baseRows: number): { z: number; p: number } {
  const se = baseStd * Math.sqrt(1 / n + 1 / baseRows);
  const d = mean - baseMean;
  const z = se > 0 ? d / se : d === 0 ? 0 : Infinity * Math.sign(d);
  return { z, p: normalTwoSided(z) };
}

function histStats(h: NumericColumn): { mean: number; std: number; rows: number; quantile: (q: number) => number } {
  const n = h.counts.reduce((a, b) => a + b, 0);
  let s = 0;
  let s2 = 0;
  h.counts.forEach((c, i) => {
    s += c * h.points[i];
    s2 += c * h.points[i] ** 2;
  });
  const mean = h.mean ?? s / n;
  const std = Math.sqrt(Math.max(s2 / n - (s / n) ** 2, 0));
  const quantile = (q: number) => {
    let cum = 0;
    for (let i = 0; i < h.counts.length; i++) {
      if (h.counts[i] > 0 && cum + h.counts[i] >= q * n) return h.edges[i] + ((q * n - cum) / h.counts[i]) * (h.edges[i + 1] - h.edges[i]);
      cum += h.counts[i];
    }
    return h.edges[h.edges.length - 1];
  };
  return { mean, std, rows: n, quantile };
}

export function checkPredictions(sketch: ProfileSketch, base: NumericColumn, o: PredictionCheckOptions = {}): PredictionReport | null {
  const n = sketch.predictionCount;
  if (n === 0) return null;
  const mean = sketch.predSum / n;
  const std = Math.sqrt(Math.max(sketch.predSumSq / n - mean * mean, 0));
  const b = histStats(base);
  const qs = o.quantiles ?? [0.05, 0.25, 0.5, 0.75, 0.95];
  const quantiles = Object.fromEntries(qs.map((q) => [String(q), sketch.predictionQuantile(q)]));
  const bq = Object.fromEntries(qs.map((q) => [String(q), b.quantile(q)]));
  const { reference, current } = sketch.predictionDistributions();
  const { referenceRows, distinct } = describePair(reference, current);
  const test = o.test ?? defaultTest('numeric', referenceRows, distinct);
  const threshold = o.threshold ?? TEST_INFO[test].threshold;
  const score = runTest(test, reference, current).score;
  const drifted = isDrift(test, score, threshold);

  const maxMean = o.max_mean_shift ?? 0.05;
  const meanAlpha = o.mean_alpha ?? 0.01;
  const meanTest = meanShiftTest(mean, n, b.mean, b.std, b.rows);
  const ratio = o.max_std_ratio ?? 2;
  const maxQ = o.max_quantile_shift ?? 0.1;
  const minStd = o.min_std ?? 0.005;
  const maxShare = o.max_bin_share ?? 0.8;
  const top = Math.max(...sketch.prediction) / n;
  const checks: PredictionCheck[] = [
    { check: 'distribution', ok: !drifted, value: score, limit: threshold, detail: TEST_INFO[test].label },
    {
      check: 'mean', ok: !(meanTest.p < meanAlpha && Math.abs(mean - b.mean) >= maxMean), value: mean, baseline: b.mean, limit: maxMean,
      detail: `z ${meanTest.z.toFixed(2)}, p ${meanTest.p.toPrecision(3)} (fails at p < ${meanAlpha} and |shift| ≥ ${maxMean})`,
    },
    { check: 'std', ok: b.std === 0 || (std / b.std <= ratio && std / b.std >= 1 / ratio), value: std, baseline: b.std, limit: ratio },
    ...qs.map((q) => ({ check: 'quantile' as const, ok: Math.abs(quantiles[String(q)] - bq[String(q)]) <= maxQ, value: quantiles[String(q)], baseline: bq[String(q)], limit: maxQ, detail: `q${q}` })),
    { check: 'low_variance', ok: std >= minStd, value: std, limit: minStd },
    { check: 'concentration', ok: top <= maxShare, value: top, limit: maxShare, detail: 'largest share of predictions in one baseline bin' },
  ];
  return { rows: n, mean, std, quantiles, baseline: { mean: b.mean, std: b.std, quantiles: bq }, test, score, drifted, comparable: true, checks };
}
