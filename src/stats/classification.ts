/**
 * Binary-classification metrics over labels y ∈ {0,1} and probabilities p.
 * AUC is the Mann–Whitney statistic with ties counted one half (as sklearn's
 * roc_auc_score); log loss clips p to [1e-15, 1 − 1e-15]; ECE uses equal-width bins.
 */

export interface Metrics {
  rows: number;
  positives: number;
  base_rate: number;
  auc: number;
  log_loss: number;
  brier: number;
  /** Expected calibration error, 10 equal-width bins: Σ (n_b/N)·|mean(y)_b − mean(p)_b|. */
  ece: number;
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

type Labels = ArrayLike<number>;
type Scores = ArrayLike<number>;

/** Scores of the positives and of the negatives, each sorted ascending. */
function split(y: Labels, p: Scores): [Float64Array, Float64Array] {
  let npos = 0;
  for (let i = 0; i < y.length; i++) npos += y[i] ? 1 : 0;
  const pos = new Float64Array(npos);
  const neg = new Float64Array(y.length - npos);
  let a = 0;
  let b = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i]) pos[a++] = p[i];
    else neg[b++] = p[i];
  }
  return [pos.sort(), neg.sort()];
}

function checkInputs(y: Labels, p: Scores): void {
  if (y.length !== p.length) throw new Error(`metrics: ${y.length} labels, ${p.length} predictions`);
  if (y.length === 0) throw new Error('metrics: no rows');
  for (let i = 0; i < p.length; i++) if (!Number.isFinite(p[i])) throw new Error(`metrics: prediction ${i} is not finite`);
}

/** Area under the ROC curve; NaN when one class is absent. */
export function auc(y: Labels, p: Scores): number {
  checkInputs(y, p);
  const [pos, neg] = split(y, p);
  if (pos.length === 0 || neg.length === 0) return NaN;
  // For each positive: negatives strictly below count 1, equal count 1/2.
  let below = 0;
  let upTo = 0;
  let sum = 0;
  for (let i = 0; i < pos.length; i++) {
    const s = pos[i];
    while (below < neg.length && neg[below] < s) below++;
    if (upTo < below) upTo = below;
    while (upTo < neg.length && neg[upTo] <= s) upTo++;
    sum += below + 0.5 * (upTo - below);
  }
  return sum / (pos.length * neg.length);
}

export function logLoss(y: Labels, p: Scores, eps = 1e-15): number {
  checkInputs(y, p);
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(Math.max(p[i], eps), 1 - eps);
    s -= y[i] ? Math.log(q) : Math.log(1 - q);
  }
  return s / y.length;
}

export function brier(y: Labels, p: Scores): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (p[i] - (y[i] ? 1 : 0)) ** 2;
  return s / y.length;
}

export function expectedCalibrationError(y: Labels, p: Scores, bins = 10): number {
  checkInputs(y, p);
  const n = new Float64Array(bins);
  const sy = new Float64Array(bins);
  const sp = new Float64Array(bins);
  for (let i = 0; i < y.length; i++) {
    const b = Math.min(Math.floor(p[i] * bins), bins - 1);
    n[b]++;
    sy[b] += y[i] ? 1 : 0;
    sp[b] += p[i];
  }
  let e = 0;
  for (let b = 0; b < bins; b++) if (n[b] > 0) e += (n[b] / y.length) * Math.abs(sy[b] / n[b] - sp[b] / n[b]);
  return e;
}

/** Confusion-matrix figures when p ≥ threshold predicts the positive class. */
export function atThreshold(y: Labels, p: Scores, threshold: number): Pick<Metrics, 'accuracy' | 'precision' | 'recall' | 'f1'> {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < y.length; i++) {
    const hit = p[i] >= threshold;
    if (y[i]) hit ? tp++ : fn++;
    else hit ? fp++ : tn++;
  }
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return { accuracy: (tp + tn) / y.length, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0 };
}

/** The threshold (one of the scores) that maximises F1 = 2TP / (TP + FP + P). */
export function bestF1Threshold(y: Labels, p: Scores): number {
  checkInputs(y, p);
  const [pos, neg] = split(y, p);
  const P = pos.length;
  let best = 0.5;
  let bestF1 = -1;
  // Walk thresholds from the highest score down; TP/FP = scores ≥ t in each class.
  let i = pos.length - 1;
  let j = neg.length - 1;
  while (i >= 0 || j >= 0) {
    const t = Math.max(i >= 0 ? pos[i] : -Infinity, j >= 0 ? neg[j] : -Infinity);
    while (i >= 0 && pos[i] >= t) i--;
    while (j >= 0 && neg[j] >= t) j--;
    const tp = pos.length - 1 - i;
    const fp = neg.length - 1 - j;
    const f1 = (2 * tp) / (tp + fp + P);
    if (f1 > bestF1) {
      bestF1 = f1;
      best = t;
    }
  }
  return best;
}

/** Every metric of one window. */
export function evaluate(y: Labels, p: Scores, threshold: number): Metrics {
  checkInputs(y, p);
  let positives = 0;
  for (let i = 0; i < y.length; i++) positives += y[i] ? 1 : 0;
  return {
    rows: y.length,
    positives,
    base_rate: positives / y.length,
    auc: auc(y, p),
    log_loss: logLoss(y, p),
    brier: brier(y, p),
    ece: expectedCalibrationError(y, p),
    threshold,
    ...atThreshold(y, p, threshold),
  };
}
