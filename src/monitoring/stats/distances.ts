/**
 * Distribution distances and tests other than KS, each written to equal its scipy
 * (1.10) counterpart on the same inputs:
 *  - wasserstein: scipy.stats.wasserstein_distance (optionally weighted);
 *  - jensenShannon: scipy.spatial.distance.jensenshannon (base e unless given);
 *  - chiSquare: scipy.stats.chisquare(f_obs, f_exp) (Pearson, df = k − 1);
 *  - psi: Σ (r − c)·ln(r / c), Evidently's population stability index;
 *  - zProportions: Evidently's two-proportion z-test p-value.
 */
import { chi2Sf, CompensatedSum, normalTwoSided } from './special';

function checkWeights(values: ArrayLike<number>, weights: ArrayLike<number> | undefined, which: string): void {
  if (values.length === 0) throw new Error(`wasserstein: the ${which} distribution is empty`);
  if (weights && weights.length !== values.length) throw new Error(`wasserstein: ${weights.length} ${which} weights for ${values.length} values`);
  if (weights) {
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      if (!(weights[i] >= 0)) throw new Error(`wasserstein: ${which} weight ${i} is negative or NaN`);
      total += weights[i];
    }
    if (!(total > 0)) throw new Error(`wasserstein: the ${which} weights sum to 0`);
  }
}

/** Sorted values with their weights (1 each when none). */
function sortedWeighted(values: ArrayLike<number>, weights?: ArrayLike<number>): { v: Float64Array; w: Float64Array | null; total: number } {
  const n = values.length;
  for (let i = 0; i < n; i++) if (Number.isNaN(values[i])) throw new Error('wasserstein: NaN value');
  if (!weights) return { v: Float64Array.from(values).sort(), w: null, total: n };
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  let total = 0;
  order.forEach((k, i) => {
    v[i] = values[k];
    w[i] = weights[k];
    total += w[i];
  });
  return { v, w, total };
}

/**
 * 1-D first Wasserstein distance ∫ |U(x) − V(x)| dx between two empirical distributions,
 * with optional non-negative weights (scipy.stats.wasserstein_distance).
 */
export function wasserstein(u: ArrayLike<number>, v: ArrayLike<number>, uWeights?: ArrayLike<number>, vWeights?: ArrayLike<number>): number {
  checkWeights(u, uWeights, 'first');
  checkWeights(v, vWeights, 'second');
  const U = sortedWeighted(u, uWeights);
  const V = sortedWeighted(v, vWeights);
  let i = 0;
  let j = 0;
  let cu = 0;
  let cv = 0;
  let prev = NaN;
  const sum = new CompensatedSum();
  // Walk the merged distinct values; between two of them both CDFs are constant.
  while (i < U.v.length || j < V.v.length) {
    const x = j >= V.v.length || (i < U.v.length && U.v[i] <= V.v[j]) ? U.v[i] : V.v[j];
    if (!Number.isNaN(prev)) sum.add(Math.abs(cu / U.total - cv / V.total) * (x - prev));
    while (i < U.v.length && U.v[i] <= x) cu += U.w ? U.w[i++] : (i++, 1);
    while (j < V.v.length && V.v[j] <= x) cv += V.w ? V.w[j++] : (j++, 1);
    prev = x;
  }
  return sum.value;
}

/** Population standard deviation (numpy's np.std, ddof 0), two-pass. */
export function populationStd(x: ArrayLike<number>, weights?: ArrayLike<number>): number {
  const mean = new CompensatedSum();
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const w = weights ? weights[i] : 1;
    mean.add(w * x[i]);
    total += w;
  }
  const m = mean.value / total;
  const ss = new CompensatedSum();
  for (let i = 0; i < x.length; i++) ss.add((weights ? weights[i] : 1) * (x[i] - m) ** 2);
  return Math.sqrt(ss.value / total);
}

/** x·ln(x/y) with scipy's rel_entr conventions. */
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Infinity;
}

/**
 * Jensen–Shannon distance sqrt(JSD) of two (unnormalised) distributions over the same
 * categories. Natural log unless `base` is given (base 2 bounds it by 1; base e by √ln2).
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>, base?: number): number {
  if (p.length !== q.length) throw new Error(`jensenshannon: ${p.length} vs ${q.length} categories`);
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i];
    sq += q[i];
  }
  if (!(sp > 0 && sq > 0)) throw new Error('jensenshannon: a distribution sums to 0');
  const left = new CompensatedSum();
  const right = new CompensatedSum();
  for (let i = 0; i < p.length; i++) {
    const a = p[i] / sp;
    const b = q[i] / sq;
    const m = (a + b) / 2;
    left.add(relEntr(a, m));
    right.add(relEntr(b, m));
  }
  let js = left.value + right.value;
  if (base !== undefined) js /= Math.log(base);
  return Math.sqrt(js / 2);
}

export interface ChiSquareResult {
  statistic: number;
  pvalue: number;
  df: number;
}

/** Pearson's chi-square goodness of fit (scipy.stats.chisquare(f_obs, f_exp)). */
export function chiSquare(observed: ArrayLike<number>, expected: ArrayLike<number>): ChiSquareResult {
  const k = observed.length;
  if (k !== expected.length) throw new Error(`chisquare: ${k} observed vs ${expected.length} expected frequencies`);
  if (k < 2) throw new Error('chisquare: needs at least 2 categories');
  let so = 0;
  let se = 0;
  for (let i = 0; i < k; i++) {
    so += observed[i];
    se += expected[i];
  }
  if (Math.abs(so - se) / Math.min(so, se) > 1e-8) throw new Error(`chisquare: observed sum ${so} differs from expected sum ${se}`);
  const stat = new CompensatedSum();
  for (let i = 0; i < k; i++) stat.add((observed[i] - expected[i]) ** 2 / expected[i]);
  const statistic = stat.value;
  return { statistic, pvalue: chi2Sf(statistic, k - 1), df: k - 1 };
}

/** Population stability index of two share vectors (zero shares must already be filled). */
export function psi(ref: ArrayLike<number>, cur: ArrayLike<number>): number {
  if (ref.length !== cur.length) throw new Error(`psi: ${ref.length} vs ${cur.length} bins`);
  const s = new CompensatedSum();
  for (let i = 0; i < ref.length; i++) s.add((ref[i] - cur[i]) * Math.log(ref[i] / cur[i]));
  return s.value;
}

/**
 * Evidently's zero filling before PSI: a zero share becomes 1e-4, or min(non-zero)/1e6
 * when the smallest non-zero share is ≤ 1e-4.
 */
export function fillZeroShares(shares: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(shares);
  let min = Infinity;
  for (const s of out) if (s !== 0 && s < min) min = s;
  const fill = min <= 0.0001 ? min / 1e6 : 0.0001;
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = fill;
  return out;
}

/**
 * Two-proportion z-test p-value (Evidently `z`): p1 = k1/n1 vs p2 = k2/n2 with the pooled
 * proportion; 1 when both samples hold one and the same value.
 */
export function zProportions(k1: number, n1: number, k2: number, n2: number): number {
  const p1 = k1 / n1;
  const p2 = k2 / n2;
  const P = (p1 * n1 + p2 * n2) / (n1 + n2);
  if (P === 0 || P === 1) return 1;
  const z = (p1 - p2) / Math.sqrt(P * (1 - P) * (1 / n1 + 1 / n2));
  return normalTwoSided(z);
}
