/** Pure statistics helpers: medians and spreads over repeats, percentiles. */

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every repeat's value, in run order. */
  values: number[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of empty list');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of empty list');
  for (const v of values) if (!Number.isFinite(v)) throw new Error(`non-finite value ${v} in spread`);
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), values: [...values] };
}

/** (max - min) / median, a simple relative run-to-run variation. 0 when median is 0. */
export function relativeSpread(s: Spread): number {
  return s.median === 0 ? 0 : (s.max - s.min) / s.median;
}

/** Nearest-rank percentile (p in [0,100]) of an unsorted list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of empty list');
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

/** a / b, or null when either side is missing or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
