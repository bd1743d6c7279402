/**
 * Live quality of a binary classifier over one window of labelled predictions: AUC
 * (Mann–Whitney, ties ½, as sklearn), accuracy at the card's threshold, log loss, Brier,
 * expected calibration error with its reliability bins, and target drift — the labels'
 * positive share against the training window's, judged by a two-proportion z-test and an
 * effect-size floor (a real change is both unlikely by chance and large enough to matter).
 * The metric formulas are the training pipeline's (src/stats/classification.ts), so live and
 * offline figures agree on the same rows.
 */
import { atThreshold, auc, brier, logLoss } from '../stats/classification';
import { runTest, TestName, TEST_INFO, isDrift, defaultTest } from './drift-tests';
import { normalTwoSided } from './stats/special';

export interface CalibrationBin {
  lo: number;
  hi: number;
  rows: number;
  mean_prediction: number;
  positive_rate: number;
}

export interface WindowPerformance {
  labelled: number;
  positives: number;
  positive_rate: number;
  auc: number | null;
  accuracy: number | null;
  log_loss: number | null;
  brier: number | null;
  ece: number | null;
  threshold: number;
  calibration: CalibrationBin[];
  target_drift?: TargetDrift;
}

/** Reliability diagram on equal-width bins of [0, 1] and the ECE it implies. */
export function calibration(y: ArrayLike<number>, p: ArrayLike<number>, bins = 10): { bins: CalibrationBin[]; ece: number } {
  const n = new Float64Array(bins);
  const sy = new Float64Array(bins);
  const sp = new Float64Array(bins);
  for (let i = 0; i < y.length; i++) {
    const b = Math.min(Math.max(Math.floor(p[i] * bins), 0), bins - 1);
    n[b]++;
    sy[b] += y[i] ? 1 : 0;
    sp[b] += p[i];
  }
  let ece = 0;
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    if (n[b] === 0) continue;
    ece += (n[b] / y.length) * Math.abs(sy[b] / n[b] - sp[b] / n[b]);
    out.push({ lo: b / bins, hi: (b + 1) / bins, rows: n[b], mean_prediction: sp[b] / n[b], positive_rate: sy[b] / n[b] });
  }
  return { bins: out, ece };
}

/**
 * Target drift of a binary label. With the default test: `score` is the two-sided p-value of
 * the two-proportion z-test (pooled), `threshold` its alpha; drifted when p < alpha and
 * |rate − reference| ≥ min_effect. With a configured distribution test (`target_test`), the
 * test's own score and threshold.
 */
export interface TargetDrift {
  test: TestName | 'two_proportion_z';
  score: number;
  threshold: number;
  drifted: boolean;
  reference_rate: number;
  difference?: number;
  min_effect?: number;
}

/** Defaults of the target drift test: 1 % false alarms at most, and a 5-point floor. */
export const TARGET_ALPHA = 0.01;
export const TARGET_MIN_EFFECT = 0.05;

/** Two-proportion z-test (pooled variance) of `positives` of `n` against a reference rate from `refRows` rows. */
export function twoProportionTest(positives: number, n: number, refRate: number, refRows: number): { z: number; p: number; difference: number } {
  const rate = positives / n;
  const pooled = (positives + refRate * refRows) / (n + refRows);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / refRows));
  const difference = rate - refRate;
  const z = se > 0 ? difference / se : difference === 0 ? 0 : Infinity * Math.sign(difference);
  return { z, p: normalTwoSided(z), difference };
}

export interface PerformanceOptions {
  threshold: number;
  /** Below this many labels the metrics are null (too noisy to act on). */
  minLabels: number;
  calibrationBins?: number;
  /** Reference positive share and its row count, for target drift. */
  reference?: { positiveRate: number; rows: number };
  /** A distribution test instead of the proportion test (the threshold is then the test's). */
  targetTest?: TestName;
  targetThreshold?: number;
  /** The proportion test's alpha and effect-size floor (TARGET_ALPHA, TARGET_MIN_EFFECT). */
  targetAlpha?: number;
  targetMinEffect?: number;
}

/** The options a monitoring config and a baseline give (the live path and the offline replay alike). */
export function performanceOptions(p: { min_labels: number; calibration_bins: number; target_alpha?: number; target_min_effect?: number; target_test?: TestName; target_threshold?: number }, b: { threshold?: number; label?: { positiveRate: number; rows: number } }): PerformanceOptions {
  return {
    threshold: b.threshold ?? 0.5, minLabels: p.min_labels, calibrationBins: p.calibration_bins, reference: b.label,
    targetTest: p.target_test, targetThreshold: p.target_threshold, targetAlpha: p.target_alpha, targetMinEffect: p.target_min_effect,
  };
}

export function windowPerformance(labels: ArrayLike<number>, outputs: ArrayLike<number>, o: PerformanceOptions): WindowPerformance {
  const m = labels.length;
  let positives = 0;
  for (let i = 0; i < m; i++) positives += labels[i] ? 1 : 0;
  const enough = m > 0 && m >= o.minLabels;
  const cal = calibration(labels, outputs, o.calibrationBins ?? 10);
  const perf: WindowPerformance = {
    labelled: m,
    positives,
    positive_rate: m ? positives / m : NaN,
    auc: null,
    accuracy: null,
    log_loss: null,
    brier: null,
    ece: null,
    threshold: o.threshold,
    calibration: cal.bins,
  };
  if (enough) {
    const a = auc(labels, outputs);
    perf.auc = Number.isNaN(a) ? null : a;
    perf.accuracy = atThreshold(labels, outputs, o.threshold).accuracy;
    perf.log_loss = logLoss(labels, outputs);
    perf.brier = brier(labels, outputs);
    perf.ece = cal.ece;
    if (o.reference && o.targetTest === undefined) {
      const alpha = o.targetAlpha ?? TARGET_ALPHA;
      const floor = o.targetMinEffect ?? TARGET_MIN_EFFECT;
      const t = twoProportionTest(positives, m, o.reference.positiveRate, o.reference.rows);
      perf.target_drift = {
        test: 'two_proportion_z', score: t.p, threshold: alpha, drifted: t.p < alpha && Math.abs(t.difference) >= floor,
        reference_rate: o.reference.positiveRate, difference: t.difference, min_effect: floor,
      };
    } else if (o.reference) {
      const refPos = Math.round(o.reference.positiveRate * o.reference.rows);
      const reference = { form: 'counts' as const, counts: new Map([['1', refPos], ['0', o.reference.rows - refPos]]) };
      const current = { form: 'counts' as const, counts: new Map([['1', positives], ['0', m - positives]]) };
      const test = o.targetTest ?? defaultTest('categorical', o.reference.rows, 2);
      const threshold = o.targetThreshold ?? TEST_INFO[test].threshold;
      const score = runTest(test, reference, current).score;
      perf.target_drift = { test, score, threshold, drifted: isDrift(test, score, threshold), reference_rate: o.reference.positiveRate };
    }
  }
  return perf;
}
