/**
 * Binning of raw samples for the share-based tests (PSI, Jensen–Shannon), as Evidently's
 * get_binned_data: a numeric column whose reference holds more than 20 distinct values
 * is cut into equal-width bins over the pooled range (numpy histogram_bin_edges, 'sturges'
 * or a bin count); anything else is counted per value over the union of values seen.
 */

/** numpy.histogram_bin_edges(pooled, bins) for 'sturges' or a bin count. */
export function equalWidthEdges(pooled: ArrayLike<number>, bins: 'sturges' | number): number[] {
  if (pooled.length === 0) throw new Error('binning: no values');
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < pooled.length; i++) {
    if (pooled[i] < lo) lo = pooled[i];
    if (pooled[i] > hi) hi = pooled[i];
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error('binning: values must be finite');
  let n: number;
  if (bins === 'sturges') {
    const width = (hi - lo) / (Math.log2(pooled.length) + 1);
    n = width ? Math.ceil((hi - lo) / width) : 1;
  } else {
    if (!Number.isInteger(bins) || bins < 1) throw new Error(`binning: bins must be a positive integer, got ${bins}`);
    n = bins;
  }
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  // np.linspace: i·step + start, the last edge set to stop.
  const step = (hi - lo) / n;
  const edges = Array.from({ length: n + 1 }, (_, i) => i * step + lo);
  edges[n] = hi;
  return edges;
}

/** numpy.histogram(x, edges)[0]: bins [e_i, e_i+1), the last one closed; values outside dropped. */
export function histogramCounts(x: ArrayLike<number>, edges: ArrayLike<number>): Float64Array {
  const k = edges.length - 1;
  const counts = new Float64Array(k);
  const last = edges[k];
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!(v >= edges[0] && v <= last)) continue;
    if (v === last) {
      counts[k - 1]++;
      continue;
    }
    // Largest i with edges[i] ≤ v.
    let lo = 0;
    let hi = k - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (edges[mid] <= v) lo = mid;
      else hi = mid - 1;
    }
    counts[lo]++;
  }
  return counts;
}

/** Count per value. */
export function valueCounts<T extends string | number>(x: ArrayLike<T>): Map<T, number> {
  const m = new Map<T, number>();
  for (let i = 0; i < x.length; i++) m.set(x[i], (m.get(x[i]) ?? 0) + 1);
  return m;
}

/** Counts of two samples over the union of their keys (reference keys first, then new ones). */
export function alignCounts<T>(ref: Map<T, number>, cur: Map<T, number>): { keys: T[]; ref: Float64Array; cur: Float64Array } {
  const keys = [...ref.keys()];
  for (const k of cur.keys()) if (!ref.has(k)) keys.push(k);
  return {
    keys,
    ref: Float64Array.from(keys, (k) => ref.get(k) ?? 0),
    cur: Float64Array.from(keys, (k) => cur.get(k) ?? 0),
  };
}

export function distinctCount(x: ArrayLike<number | string>): number {
  return new Set(Array.from(x)).size;
}

/**
 * Evidently get_binned_data: the shares of both samples over common bins.
 * @param numeric whether the column is numeric (equal-width bins when the reference has > 20 values)
 */
export function binnedShares(ref: ArrayLike<number | string>, cur: ArrayLike<number | string>, numeric: boolean, bins: 'sturges' | number = 'sturges'): { refShares: Float64Array; curShares: Float64Array; bins: number } {
  if (ref.length === 0 || cur.length === 0) throw new Error('binning: empty sample');
  let r: Float64Array;
  let c: Float64Array;
  if (numeric && distinctCount(ref) > 20) {
    const pooled = new Float64Array(ref.length + cur.length);
    pooled.set(ref as ArrayLike<number>);
    pooled.set(cur as ArrayLike<number>, ref.length);
    const edges = equalWidthEdges(pooled, bins);
    r = histogramCounts(ref as ArrayLike<number>, edges);
    c = histogramCounts(cur as ArrayLike<number>, edges);
  } else {
    const a = alignCounts(valueCounts(ref), valueCounts(cur));
    r = a.ref;
    c = a.cur;
  }
  return { refShares: r.map((v) => v / ref.length), curShares: c.map((v) => v / cur.length), bins: r.length };
}
