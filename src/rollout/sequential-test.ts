/**
 * The always-valid test that ends a canary on quality: a mixture sequential probability
 * ratio test (mSPRT; Robbins 1970, as used for A/B tests by Johari, Pekelis & Walsh, "Always
 * Valid Inference", 2017) for the difference θ of an asymptotically normal statistic between
 * the arms: the AUC of candidate and stable on their labelled requests (variance by Hanley &
 * McNeil, 1982), or a difference of means.
 *
 * With θ estimated by d, V its variance (normal approximation) and the mixture θ ~ N(0, τ²)
 * over alternatives,
 *   Λ = sqrt(V / (V + τ²)) · exp( d² τ² / (2 V (V + τ²)) ).
 * Under H0 (θ = 0) Λ is a nonnegative martingale, so by Ville's inequality the chance that it
 * EVER reaches 1/α is at most α: the test may be checked after every label (no peeking
 * penalty) and its false-decision rate stays ≤ α. The sign of d says which way it decided.
 */
import { auc } from '../stats/classification';

export interface Moments {
  n: number;
  mean: number;
  /** Sample variance (n − 1 in the denominator). */
  variance: number;
}

export function moments(values: ArrayLike<number>): Moments {
  const n = values.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += values[i];
  const mean = n ? s / n : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { n, mean, variance: n > 1 ? ss / (n - 1) : 0 };
}

/** Λ of the normal-mixture mSPRT for an estimate `diff` of θ with variance `v`; 1 (no evidence) when v is not positive. */
export function mixtureLambda(diff: number, v: number, tau: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const t2 = tau * tau;
  return Math.sqrt(v / (v + t2)) * Math.exp((diff * diff * t2) / (2 * v * (v + t2)));
}

/** Λ of the mSPRT for mean(candidate) − mean(stable); 1 (no evidence) until both have 2 rows. */
export function msprt(candidate: Moments, stable: Moments, tau: number): { lambda: number; diff: number; se: number } {
  const diff = candidate.mean - stable.mean;
  if (candidate.n < 2 || stable.n < 2) return { lambda: 1, diff, se: Infinity };
  const v = candidate.variance / candidate.n + stable.variance / stable.n;
  return { lambda: mixtureLambda(diff, v, tau), diff, se: Math.sqrt(Math.max(v, 0)) };
}

/** Hanley & McNeil's (1982) variance of an AUC estimate from nPos positives and nNeg negatives. */
export function aucVariance(auc: number, nPos: number, nNeg: number): number {
  if (nPos < 1 || nNeg < 1) return Infinity;
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  return (auc * (1 - auc) + (nPos - 1) * (q1 - auc * auc) + (nNeg - 1) * (q2 - auc * auc)) / (nPos * nNeg);
}

/** Per-row log loss of a probability against a 0/1 label (clipped like the trainer's). */
export function rowLogLoss(label: number, p: number, eps = 1e-15): number {
  const q = Math.min(1 - eps, Math.max(eps, p));
  return label >= 0.5 ? -Math.log(q) : -Math.log(1 - q);
}

/** Labelled predictions of one arm. */
export interface ArmLabels {
  labels: ArrayLike<number>;
  outputs: ArrayLike<number>;
}

export interface ArmComparison {
  /** 'rollback' when the candidate ranks worse, 'promote' when better, null: not enough evidence yet. */
  decision: 'promote' | 'rollback' | null;
  lambda: number;
  auc_difference: number;
  standard_error: number;
  auc_stable: number;
  auc_candidate: number;
  log_loss_stable: number;
  log_loss_candidate: number;
  labels_stable: number;
  labels_candidate: number;
}

/** The quality check of a canary: the mSPRT on AUC(candidate) − AUC(stable). */
export function compareArms(stable: ArmLabels, candidate: ArmLabels, alpha: number, tau: number): ArmComparison {
  const arm = (j: ArmLabels) => {
    let pos = 0;
    for (let i = 0; i < j.labels.length; i++) if (j.labels[i] >= 0.5) pos++;
    const a = auc(j.labels, j.outputs);
    const loss = new Float64Array(j.labels.length);
    for (let i = 0; i < loss.length; i++) loss[i] = rowLogLoss(j.labels[i], j.outputs[i]);
    return { auc: a, v: aucVariance(a, pos, j.labels.length - pos), logLoss: moments(loss).mean };
  };
  const [s, c] = [arm(stable), arm(candidate)];
  const diff = c.auc - s.auc;
  const lambda = Number.isFinite(diff) ? mixtureLambda(diff, c.v + s.v, tau) : 1;
  return {
    decision: lambda >= 1 / alpha ? (diff < 0 ? 'rollback' : 'promote') : null,
    lambda, auc_difference: diff, standard_error: Math.sqrt(c.v + s.v), auc_stable: s.auc, auc_candidate: c.auc,
    log_loss_stable: s.logLoss, log_loss_candidate: c.logLoss, labels_stable: stable.labels.length, labels_candidate: candidate.labels.length,
  };
}
