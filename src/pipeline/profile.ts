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
import { Histogram, histogram, quantileEdges } from '../stats/histogram';

export interface DriftProfile {
  window: string;
  rows: number;
  numeric: Record<string, Histogram & { mean: number; std: number }>;
  time: Record<string, { hour_of_day: Histogram; day_of_week: Histogram }>;
  categorical: Record<string, { top: { value: string; count: number; fraction: number }[]; other: number; other_count: number; distinct: number }>;
  prediction: Histogram & { mean: number };
  /** The training window's labels (binary): the reference rate of target drift. */
  label?: { rows: number; positives: number };
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
export function buildProfile(spec: FeatureSpec, columns: Columns, predictions: Float32Array, opts: { window: string; bins?: number; topK?: number; labels?: ArrayLike<number> }): DriftProfile {
  const bins = opts.bins ?? 10;
  const topK = opts.topK ?? 20;
  const rows = predictions.length;
  const profile: DriftProfile = { window: opts.window, rows, numeric: {}, time: {}, categorical: {}, prediction: { ...histogram(predictions, range(20).map((i) => i / 20)), mean: meanStd(predictions).mean } };
  if (opts.labels) {
    let positives = 0;
    for (let i = 0; i < opts.labels.length; i++) positives += opts.labels[i] ? 1 : 0;
    profile.label = { rows: opts.labels.length, positives };
  }
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
