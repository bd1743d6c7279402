/**
 * The baseline profile for drift monitoring, saved in card.json: distributions of the
 * raw inputs and of the predictions on the training window. A monitor bins live traffic
 * with the same edges and compares fractions (PSI, KL, ...).
 *  - numeric inputs: quantile bins of the training values (first/last bins open-ended);
 *  - timestamp: fixed bins, hour of day (24) and day of week (7, Sunday first);
 *  - categorical inputs: top-K values and "other";
 *  - predictions: equal-width bins on [0, 1].
 */
import { dayOfWeek, minuteOfDay, toEpochMs } from '../features';
import type { FeatureSpec } from '../features';
import type { Columns } from '../features';

export interface Histogram {
  /** Bin i holds edges[i] ≤ x < edges[i+1]; the first and last bins also take values beyond. */
  edges: number[];
  /** Bin midpoints, to place each bin on the axis (src/monitoring's histogram form). */
  points: number[];
  counts: number[];
  fractions: number[];
}

export interface DriftProfile {
  window: string;
  rows: number;
  numeric: Record<string, Histogram & { mean: number; std: number }>;
  time: Record<string, { hour_of_day: Histogram; day_of_week: Histogram }>;
  categorical: Record<string, { top: { value: string; count: number; fraction: number }[]; other: number; other_count: number; distinct: number }>;
  prediction: Histogram & { mean: number };
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

function meanStd(values: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < values.length; i++) {
    s += values[i];
    s2 += values[i] * values[i];
  }
  const mean = s / values.length;
  return { mean, std: Math.sqrt(Math.max(s2 / values.length - mean * mean, 0)) };
}

const range = (n: number) => Array.from({ length: n + 1 }, (_, i) => i);

/** Profiles the raw inputs (as fed to transform) and the model's predictions on them. */
export function buildProfile(spec: FeatureSpec, columns: Columns, predictions: Float32Array, opts: { window: string; bins?: number; topK?: number }): DriftProfile {
  const bins = opts.bins ?? 10;
  const topK = opts.topK ?? 20;
  const rows = predictions.length;
  const profile: DriftProfile = { window: opts.window, rows, numeric: {}, time: {}, categorical: {}, prediction: { ...histogram(predictions, range(20).map((i) => i / 20)), mean: meanStd(predictions).mean } };
  for (const f of spec.inputs) {
    const col = columns[f.name];
    if (f.type === 'number') {
      const x = Float64Array.from({ length: rows }, (_, i) => col[i] as number);
      profile.numeric[f.name] = { ...histogram(x, quantileEdges(x, bins)), ...meanStd(x) };
    } else if (f.type === 'timestamp') {
      const hours = new Float64Array(rows);
      const days = new Float64Array(rows);
      for (let i = 0; i < rows; i++) {
        const t = toEpochMs(col[i]);
        hours[i] = Math.floor(minuteOfDay(t) / 60);
        days[i] = dayOfWeek(t);
      }
      profile.time[f.name] = { hour_of_day: histogram(hours, range(24)), day_of_week: histogram(days, range(7)) };
    } else {
      const counts = new Map<string, number>();
      for (let i = 0; i < rows; i++) counts.set(String(col[i]), (counts.get(String(col[i])) ?? 0) + 1);
      const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      const top = sorted.slice(0, topK).map(([value, c]) => ({ value, count: c, fraction: c / rows }));
      const otherCount = rows - top.reduce((s, t) => s + t.count, 0);
      profile.categorical[f.name] = { top, other: otherCount / rows, other_count: otherCount, distinct: counts.size };
    }
  }
  return profile;
}
