/**
 * The always-valid test that ends a canary on quality: a mixture sequential probability
 * ratio test (mSPRT; Robbins 1970, as used for A/B tests by Johari, Pekelis & Walsh, "Always
 * Valid Inference", 2017) for the difference of two means, here the mean per-row log loss
 * of candidate and stable on their labelled requests.
 *
 * With θ = mean_candidate − mean_stable estimated by d, V = s_c²/n_c + s_s²/n_s its variance
 * (normal approximation) and the mixture θ ~ N(0, τ²) over alternatives,
 *   Λ = sqrt(V / (V + τ²)) · exp( d² τ² / (2 V (V + τ²)) ).
 * Under H0 (θ = 0) Λ is a nonnegative martingale, so by Ville's inequality the chance that it
 * EVER reaches 1/α is at most α: the test may be checked after every label (no peeking
 * penalty) and its false-decision rate stays ≤ α. The sign of d says which way it decided.
 */

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

/** Λ of the mSPRT for mean(candidate) − mean(stable); 1 (no evidence) until both have 2 rows. */
export function msprt(candidate: Moments, stable: Moments, tau: number): { lambda: number; diff: number; se: number } {
  const diff = candidate.mean - stable.mean;
  if (candidate.n < 2 || stable.n < 2) return { lambda: 1, diff, se: Infinity };
  const v = candidate.variance / candidate.n + stable.variance / stable.n;
  if (!(v > 0)) return { lambda: 1, diff, se: 0 };
  const t2 = tau * tau;
  const lambda = Math.sqrt(v / (v + t2)) * Math.exp((diff * diff * t2) / (2 * v * (v + t2)));
  return { lambda, diff, se: Math.sqrt(v) };
}

/** Per-row log loss of a probability against a 0/1 label (clipped like the trainer's). */
export function rowLogLoss(label: number, p: number, eps = 1e-15): number {
  const q = Math.min(1 - eps, Math.max(eps, p));
  return label >= 0.5 ? -Math.log(q) : -Math.log(1 - q);
}
