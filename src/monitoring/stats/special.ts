/**
 * Special functions for the drift tests, in double precision:
 *  - log Γ (Lanczos, g = 7, 9 terms; ~1e-15 relative);
 *  - the regularized incomplete gamma functions P(a, x) and Q(a, x) (series below a + 1,
 *    modified Lentz continued fraction above), hence chi2.sf and erfc;
 *  - an exactly rounded split of n·x into floor and remainder (Dekker's product), which
 *    the Smirnov sum needs where n·x lies next to an integer.
 */

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const LOG_SQRT_2PI = 0.91893853320467274178;
const EPS = 2.220446049250313e-16;
const TINY = 1e-300;

/** log Γ(x) for x > 0. */
export function lgamma(x: number): number {
  if (!(x > 0)) return x === 0 ? Infinity : NaN;
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (z + i);
  return LOG_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Series for P(a, x); converges fast for x < a + 1. */
function gammaSeries(a: number, x: number): number {
  let ap = a;
  let sum = 1 / a;
  let del = sum;
  for (let n = 0; n < 100_000; n++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lgamma(a));
}

/** Continued fraction for Q(a, x) (modified Lentz); for x ≥ a + 1. */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - lgamma(a)) * h;
}

/** Regularized lower incomplete gamma P(a, x) = γ(a, x) / Γ(a). */
export function gammaP(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return NaN;
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x), accurate in the far tail. */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

/** Survival function of the chi-square distribution with df degrees of freedom (scipy chi2.sf). */
export function chi2Sf(x: number, df: number): number {
  if (Number.isNaN(x) || !(df > 0)) return NaN;
  if (x <= 0) return 1;
  return gammaQ(df / 2, x / 2);
}

/** Complementary error function, via Q(1/2, x²) for x ≥ 0. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  return x >= 0 ? gammaQ(0.5, x * x) : 2 - gammaQ(0.5, x * x);
}

/** Two-sided normal tail 2·(1 − Φ(|z|)). */
export function normalTwoSided(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** Dekker's exact product: a·b = hi + lo exactly. */
export function twoProduct(a: number, b: number): [number, number] {
  const hi = a * b;
  const split = (v: number): [number, number] => {
    const c = 134217729 * v; // 2^27 + 1
    const h = c - (c - v);
    return [h, v - h];
  };
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  const lo = ((ah * bh - hi) + ah * bl + al * bh) + al * bl;
  return [hi, lo];
}

/** Knuth's exact sum: a + b = hi + lo exactly. */
export function twoSum(a: number, b: number): [number, number] {
  const hi = a + b;
  const bb = hi - a;
  return [hi, (a - (hi - bb)) + (b - bb)];
}

/** floor(n·x) and the remainder n·x − floor(n·x) ∈ [0, 1), computed from the exact product. */
export function floorAndFraction(n: number, x: number): { floor: number; fraction: number } {
  const [hi, lo] = twoProduct(n, x);
  let floor = Math.floor(hi);
  let fraction = (hi - floor) + lo;
  if (fraction < 0) {
    floor -= 1;
    fraction += 1;
  }
  if (fraction >= 1) {
    floor += 1;
    fraction -= 1;
  }
  return { floor, fraction };
}

/** Rounds half to even, as numpy's np.round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Neumaier-compensated sum: order-insensitive to ~1e-16 relative. */
export class CompensatedSum {
  private sum = 0;
  private c = 0;

  add(v: number): void {
    if (!Number.isFinite(v) || !Number.isFinite(this.sum)) {
      // Infinities and NaN propagate as in a plain sum; the compensation no longer applies.
      this.sum += v;
      this.c = 0;
      return;
    }
    const t = this.sum + v;
    if (Math.abs(this.sum) >= Math.abs(v)) this.c += (this.sum - t) + v;
    else this.c += (v - t) + this.sum;
    this.sum = t;
  }

  get value(): number {
    return this.sum + this.c;
  }
}
