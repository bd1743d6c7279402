/**
 * fitFeatures: learns the feature spec from the training window only (means, standard
 * deviations, vocabularies). Nothing here may look at holdout or evaluation rows.
 */
import { blockWidth, checkFeatureSpec, FEATURE_SPEC_FORMAT, FeatureBlock, FeatureSpec, InputField, TimeUnit } from './feature-spec';
import { Columns, normalizeCategory, transform } from './transform';
import { toEpochMs } from './time';
import type { OnlineFeatures } from './online';

export interface FitOptions {
  /** The timestamp input (ISO strings or epoch ms). */
  timestamp: string;
  /** Numeric inputs; each listed transform becomes one standardised column. */
  numeric: { name: string; transforms?: ('identity' | 'log1p')[] }[];
  /**
   * Categorical inputs, one-hot over the training values seen at least `min_count`
   * times (at most `max_vocabulary`, most frequent first); the rest share the unknown
   * bucket, which rare training values thereby teach.
   */
  categorical: { name: string; min_count?: number; max_vocabulary?: number; normalize?: 'none' | 'trim_upper' }[];
  /** Time features of the timestamp; defaults: both units, cyclic and one-hot. */
  time?: { units?: TimeUnit[]; cyclic?: boolean; one_hot?: boolean };
  /** Hashed categorical × time-of-day slot crosses. */
  crosses?: { input: string; hours_per_slot: number; buckets: number }[];
  /** Standardised values are clipped to ±clip (default 10) against absurd serving inputs. */
  clip?: number;
  /** Online aggregates (already columns of the training data, each listed in `numeric`). */
  online?: OnlineFeatures;
  /** Recorded in the spec: the training window. */
  window?: { from: string; to: string };
}

function rowsOf(columns: Columns, names: string[]): number {
  const n = columns[names[0]]?.length ?? 0;
  for (const k of names) {
    if (!columns[k]) throw new Error(`fitFeatures: missing column '${k}'`);
    if (columns[k].length !== n) throw new Error(`fitFeatures: column '${k}' has ${columns[k].length} values, expected ${n}`);
  }
  return n;
}

function meanStd(col: ArrayLike<string | number>, f: (x: number) => number, name: string): { mean: number; std: number } {
  let sum = 0;
  let sumSq = 0;
  const n = col.length;
  for (let i = 0; i < n; i++) {
    const x = col[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`fitFeatures: column '${name}' row ${i}: not a finite number`);
    const v = f(x);
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / n;
  const variance = Math.max(sumSq / n - mean * mean, 0);
  // A constant column standardises to 0 rather than dividing by zero.
  return { mean, std: variance > 0 ? Math.sqrt(variance) : 1 };
}

function vocabulary(col: ArrayLike<string | number>, normalize: 'none' | 'trim_upper', minCount: number, maxSize: number): string[] {
  const counts = new Map<string, number>();
  for (let i = 0; i < col.length; i++) {
    const v = normalizeCategory(String(col[i]), normalize);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const kept = [...counts].filter(([, c]) => c >= minCount);
  kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return kept.slice(0, maxSize).map(([v]) => v).sort();
}

function namesOf(b: FeatureBlock): string[] {
  switch (b.kind) {
    case 'numeric':
      return [b.transform === 'identity' ? b.input : `${b.transform}(${b.input})`];
    case 'cyclic':
      return [`${b.input}.${b.unit}.sin`, `${b.input}.${b.unit}.cos`];
    case 'time_onehot':
      return Array.from({ length: blockWidth(b) }, (_, k) => `${b.input}.${b.unit}=${k}`);
    case 'categorical':
      return [...b.vocabulary.map((v) => `${b.input}=${v}`), `${b.input}=<unknown>`];
    case 'cross_hour':
      return Array.from({ length: b.buckets }, (_, k) => `${b.input}×${b.time_input}.hour/${b.hours_per_slot}#${k}`);
  }
}

/** Fits a spec on the training columns; the result is frozen JSON for training and serving. */
export function fitFeatures(columns: Columns, options: FitOptions): FeatureSpec {
  const inputs: InputField[] = [
    { name: options.timestamp, type: 'timestamp' },
    ...options.numeric.map((n) => ({ name: n.name, type: 'number' as const })),
    ...options.categorical.map((c) => ({ name: c.name, type: 'string' as const })),
  ];
  const rows = rowsOf(columns, inputs.map((i) => i.name));
  if (rows === 0) throw new Error('fitFeatures: no training rows');
  const clip = options.clip ?? 10;
  const blocks: FeatureBlock[] = [];
  for (const n of options.numeric) {
    for (const t of n.transforms ?? ['identity']) {
      const f = t === 'log1p' ? (x: number) => Math.log1p(Math.max(x, 0)) : (x: number) => x;
      blocks.push({ kind: 'numeric', input: n.name, transform: t, ...meanStd(columns[n.name], f, n.name), clip });
    }
  }
  const time = { units: ['hour_of_day', 'day_of_week'] as TimeUnit[], cyclic: true, one_hot: true, ...options.time };
  for (const unit of time.units) {
    if (time.cyclic) blocks.push({ kind: 'cyclic', input: options.timestamp, unit });
    if (time.one_hot) blocks.push({ kind: 'time_onehot', input: options.timestamp, unit });
  }
  for (const c of options.categorical) {
    const normalize = c.normalize ?? 'trim_upper';
    blocks.push({ kind: 'categorical', input: c.name, normalize, vocabulary: vocabulary(columns[c.name], normalize, c.min_count ?? 1, c.max_vocabulary ?? 100_000) });
  }
  for (const x of options.crosses ?? []) {
    const c = options.categorical.find((k) => k.name === x.input);
    if (!c) throw new Error(`fitFeatures: cross input '${x.input}' is not a categorical input`);
    blocks.push({ kind: 'cross_hour', input: x.input, time_input: options.timestamp, normalize: c.normalize ?? 'trim_upper', hours_per_slot: x.hours_per_slot, buckets: x.buckets });
  }
  const spec: FeatureSpec = {
    format: FEATURE_SPEC_FORMAT,
    inputs,
    blocks,
    width: blocks.reduce((s, b) => s + blockWidth(b), 0),
    feature_names: blocks.flatMap(namesOf),
    fitted_on: { rows, ...(options.window ?? {}) },
    ...(options.online ? { online: options.online } : {}),
  };
  if (options.online) checkFeatureSpec(spec, 'fitFeatures');
  // Fail here, not at serving time, if a training value cannot be transformed.
  const ts = columns[options.timestamp];
  for (let i = 0; i < rows; i++) if (!Number.isFinite(toEpochMs(ts[i]))) throw new Error(`fitFeatures: column '${options.timestamp}' row ${i}: not a timestamp`);
  transform(spec, sliceColumns(columns, inputs.map((i) => i.name), 0, Math.min(rows, 1)));
  return spec;
}

/** The rows [from, to) of the named columns (views, not copies, for typed arrays). */
export function sliceColumns(columns: Columns, names: string[], from: number, to: number): Columns {
  const out: Columns = {};
  for (const k of names) {
    const c = columns[k] as ArrayLike<string | number> & { subarray?: (a: number, b: number) => ArrayLike<number>; slice?: (a: number, b: number) => ArrayLike<string | number> };
    out[k] = c.subarray ? c.subarray(from, to) : c.slice ? c.slice(from, to) : Array.from({ length: to - from }, (_, i) => c[from + i]);
  }
  return out;
}
