/**
 * Histograms with fixed edges: the one binning used by the training profile
 * (src/pipeline/profile.ts) and by live monitoring (src/monitoring), so a live value
 * lands in the bin its training twin did.
 */

export interface Histogram {
  /** Bin i holds edges[i] ≤ x < edges[i+1]; the first and last bins also take values beyond. */
  edges: number[];
  /** Bin midpoints, to place each bin on the axis (src/monitoring's histogram form). */
  points: number[];
  counts: number[];
  fractions: number[];
}

/** The bin of x: the last edge ≤ x, clamped to the open-ended first/last bins. */
export function binOf(edges: number[], x: number): number {
  let lo = 0;
  let hi = edges.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (edges[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function histogram(values: ArrayLike<number>, edges: number[]): Histogram {
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (let i = 0; i < values.length; i++) counts[binOf(edges, values[i])]++;
  const points = counts.map((_, i) => (edges[i] + edges[i + 1]) / 2);
  return { edges, points, counts, fractions: counts.map((c) => (values.length ? c / values.length : 0)) };
}

/** Distinct quantile edges of the values (min, the bins−1 inner quantiles, max). */
export function quantileEdges(values: ArrayLike<number>, bins: number): number[] {
  const sorted = Float64Array.from(values).sort();
  const edges = [sorted[0]];
  for (let k = 1; k < bins; k++) {
    const q = sorted[Math.min(sorted.length - 1, Math.floor((k * sorted.length) / bins))];
    if (q > edges[edges.length - 1]) edges.push(q);
  }
  const max = sorted[sorted.length - 1];
  edges.push(max > edges[edges.length - 1] ? max : edges[edges.length - 1] + 1);
  return edges;
}
