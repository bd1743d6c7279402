/**
 * Live quality of a binary classifier over one window of labelled predictions: AUC
 * (Mann–Whitney, ties ½, as sklearn), accuracy at the card's threshold, log loss, Brier,
 * expected calibration error with its reliability bins, and target drift — the labels'
 * positive share against the reference base rate, tested like any categorical column.
 * The metric formulas are the training pipeline's (src/stats/classification.ts), so live and
 * offline figures agree on the same rows.
 */
import { atThreshold, auc, brier, logLoss } from '../stats/classification';
import { runTest, TestName, TEST_INFO, isDrift, defaultTest } from './drift-tests';

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
  target_drift?: { test: TestName; score: number; threshold: number; drifted: boolean; reference_rate: number };
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

export interface PerformanceOptions {
  threshold: number;
  /** Below this many labels the metrics are null (too noisy to act on). */
  minLabels: number;
  calibrationBins?: number;
  /** Reference positive share and its row count, for target drift. */
  reference?: { positiveRate: number; rows: number };
  targetTest?: TestName;
  targetThreshold?: number;
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
    if (o.reference) {
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
