/**
 * IEEE 754 half precision (binary16) ↔ JavaScript numbers, for FP16 tensors in JSON.
 * halfBits rounds a double to the nearest half directly (round to nearest, ties to even):
 * going through float32 first would round twice and can land on the wrong neighbour.
 * Every half is exactly a double, so halfValue is exact.
 */

/** The largest finite half. */
export const HALF_MAX = 65504;

/**
 * The half bits nearest to `v` (ties to even), or undefined when `v` is NaN or would round to
 * ±Infinity (|v| ≥ 65520): JSON cannot carry those, and a silent infinity would be a wrong answer.
 */
export function halfBits(v: number): number | undefined {
  if (Number.isNaN(v)) return undefined;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return undefined;
  if (a < 2 ** -14) {
    // Subnormal (or zero): units of 2^-24, rounded to an even unit on a tie; 1024 units is the smallest normal.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  let e = Math.floor(Math.log2(a));
  // log2 can be off by one next to a power of two; fix it exactly.
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  let m = roundHalfEven((a / 2 ** e) * 1024); // in [1024, 2048]; exact scaling by powers of two
  if (m === 2048) {
    m = 1024;
    e += 1;
  }
  if (e > 15) return undefined;
  return sign | ((e + 15) << 10) | (m - 1024);
}

/** The number a half's bits stand for (exact). */
export function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/** Rounds a non-negative number to an integer, ties to even (exact for the magnitudes used here). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5 || (d === 0.5 && f % 2 === 1)) return f + 1;
  return f;
}
