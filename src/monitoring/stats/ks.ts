/**
 * Two-sample Kolmogorov–Smirnov test, two-sided, as scipy.stats.ks_2samp (scipy 1.10):
 * the statistic is the exact sup |F1 − F2| (ties handled as searchsorted 'right');
 * method 'auto' is exact when max(n1, n2) ≤ 10000 (Hodges' lattice-path counts,
 * Viehmann's 1 − p recursion), otherwise — or when the exact count fails — asymptotic:
 * kstwo.sf(D, round(n1·n2/(n1+n2))).
 */
import { kolmogornSf } from './kolmogorov';
import { roundHalfEven } from './special';

export type KsMethod = 'auto' | 'exact' | 'asymp';

export interface KsResult {
  statistic: number;
  pvalue: number;
  /** The method that produced the p-value. */
  method: 'exact' | 'asymp';
  n1: number;
  n2: number;
}

const MAX_AUTO_N = 10_000;
const INT32_MAX = 2147483647;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** P(D_{n,n} ≥ h/n) (scipy _compute_prob_outside_square). */
function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
  }
  return 2 * P;
}

/** Share of lattice paths (0,0)→(m,n) leaving |x/m − y/n| < h/lcm (scipy _compute_outer_prob_inside_method). */
function outerProbInside(m: number, n: number, g: number, h: number): number {
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  A.fill(0, minj, maxj);
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj] * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return A[maxj - minj - 1];
}

/** Exact two-sided p-value, or null where scipy would fall back to the asymptotic one. */
function exactPvalue(n1: number, n2: number, d: number): { d: number; p: number } | null {
  const g = gcd(n1, n2);
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  const dd = h / lcm;
  if (h === 0) return { d: dd, p: 1 };
  const p = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
  if (!Number.isFinite(p) || p < 0 || p > 1) return null;
  return { d: dd, p };
}

/**
 * The test from the statistic and the sample sizes.
 * @param d sup |F1 − F2|
 */
export function ksPvalue(d: number, n1: number, n2: number, method: KsMethod = 'auto'): { statistic: number; pvalue: number; method: 'exact' | 'asymp' } {
  if (!(n1 > 0 && n2 > 0)) throw new Error('ks_2samp: both samples must be non-empty');
  let mode: KsMethod = method === 'auto' ? (Math.max(n1, n2) <= MAX_AUTO_N ? 'exact' : 'asymp') : method;
  if (mode === 'exact' && n1 / gcd(n1, n2) >= INT32_MAX / (n2 / gcd(n1, n2))) mode = 'asymp';
  if (mode === 'exact') {
    const r = exactPvalue(n1, n2, d);
    if (r) return { statistic: r.d, pvalue: Math.min(Math.max(r.p, 0), 1), method: 'exact' };
  }
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1];
  const en = (m * n) / (m + n);
  return { statistic: d, pvalue: Math.min(Math.max(kolmogornSf(roundHalfEven(en), d), 0), 1), method: 'asymp' };
}

/** sup |F1 − F2| of two ascending-sorted samples (ECDFs evaluated after each distinct value). */
export function ksStatisticSorted(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxS = -Infinity;
  let minS = Infinity;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j];
    while (i < n1 && a[i] <= v) i++;
    while (j < n2 && b[j] <= v) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  const negMin = Math.min(Math.max(-minS, 0), 1);
  return negMin > maxS ? negMin : maxS;
}

function sorted(x: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(x);
  for (let i = 0; i < out.length; i++) if (Number.isNaN(out[i])) throw new Error('ks_2samp: NaN in the sample');
  return out.sort();
}

/** scipy.stats.ks_2samp(a, b, method=method), two-sided. */
export function ks2samp(a: ArrayLike<number>, b: ArrayLike<number>, method: KsMethod = 'auto'): KsResult {
  if (a.length === 0 || b.length === 0) throw new Error('ks_2samp: both samples must be non-empty');
  const d = ksStatisticSorted(sorted(a), sorted(b));
  return { ...ksPvalue(d, a.length, b.length, method), n1: a.length, n2: b.length };
}

/**
 * KS on two histograms over the same ordered bins: values tied within a bin, so the
 * statistic is that of ks_2samp on the bin indices (integer counts required).
 */
export function ks2sampCounts(ref: ArrayLike<number>, cur: ArrayLike<number>, method: KsMethod = 'auto'): KsResult {
  if (ref.length !== cur.length) throw new Error(`ks_2samp: ${ref.length} reference bins, ${cur.length} current bins`);
  let n1 = 0;
  let n2 = 0;
  for (let i = 0; i < ref.length; i++) {
    n1 += ref[i];
    n2 += cur[i];
  }
  if (n1 === 0 || n2 === 0) throw new Error('ks_2samp: both samples must be non-empty');
  let c1 = 0;
  let c2 = 0;
  let maxS = -Infinity;
  let minS = Infinity;
  for (let i = 0; i < ref.length; i++) {
    if (ref[i] === 0 && cur[i] === 0) continue;
    c1 += ref[i];
    c2 += cur[i];
    const diff = c1 / n1 - c2 / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  const negMin = Math.min(Math.max(-minS, 0), 1);
  const d = negMin > maxS ? negMin : maxS;
  return { ...ksPvalue(d, n1, n2, method), n1, n2 };
}
