/**
 * The reference a model version is monitored against, read from its card.json (written
 * by the training pipeline, src/pipeline/profile.ts): one monitored column per profiled
 * input distribution, the prediction histogram, the label base rate and the held-out AUC.
 *  - numeric input `x`            → column `x` on the card's quantile bins (points: bin midpoints);
 *  - timestamp input `t`          → `t.hour_of_day` (numeric, points 0..23) and
 *                                   `t.day_of_week` (categorical, needs ≥ 7 days of window);
 *  - categorical input `c`        → column `c` over the card's top-K values + `__other__`.
 * Counts are rebuilt from fractions × rows (rounded): the card stores fractions for top-K.
 */
import fs from 'node:fs';
import path from 'node:path';

export const OTHER = '__other__';
export const DAY_MS = 86_400_000;
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

export type Derive = 'hour_of_day' | 'day_of_week';

export interface NumericColumn {
  name: string;
  kind: 'numeric';
  input: string;
  derive?: Derive;
  /** Bin i holds edges[i] ≤ x < edges[i+1]; values beyond the ends fall in the end bins. */
  edges: number[];
  points: number[];
  counts: number[];
  /** Std of the raw training values when the card has it (Wasserstein normalisation). */
  std?: number;
  mean?: number;
}

export interface CategoricalColumn {
  name: string;
  kind: 'categorical';
  input: string;
  derive?: Derive;
  /** Monitored values, then OTHER. */
  categories: string[];
  counts: number[];
  /** Shortest window (ms) over which the column can be compared (a calendar feature's period). */
  minSpanMs?: number;
}

export type BaselineColumn = NumericColumn | CategoricalColumn;

export interface Baseline {
  model: string;
  version: number;
  /** The reference window's name and rows. */
  window: string;
  rows: number;
  columns: BaselineColumn[];
  prediction: NumericColumn;
  /** Positive-class share of the reference labels and where it comes from. */
  label?: { positiveRate: number; rows: number; source: string; names?: [string, string] };
  /** The card's held-out AUC (the objective live AUC is compared with). */
  heldOutAuc?: number;
  threshold?: number;
  /** The timestamp input (event time), if the model has one. */
  timestampInput?: string;
}

type Hist = { edges: number[]; counts: number[]; fractions?: number[]; mean?: number; std?: number };

const midpoints = (e: number[]) => e.slice(0, -1).map((x, i) => (x + e[i + 1]) / 2);

function checkHist(h: Hist | undefined, where: string): Hist {
  if (!h || !Array.isArray(h.edges) || !Array.isArray(h.counts) || h.edges.length !== h.counts.length + 1 || h.counts.length === 0) {
    throw new Error(`${where}: expected {edges, counts} with one more edge than counts`);
  }
  for (let i = 1; i < h.edges.length; i++) if (!(h.edges[i] > h.edges[i - 1])) throw new Error(`${where}: edges must increase`);
  return h;
}

/** Builds the baseline from a parsed card.json. @throws Error naming the bad field. */
export function baselineFromCard(card: any, where = 'card.json'): Baseline {
  const p = card?.profile;
  if (!p || typeof p !== 'object') throw new Error(`${where}: no 'profile' (the drift baseline)`);
  const rows = Number(p.rows);
  if (!(rows > 0)) throw new Error(`${where}: profile.rows must be > 0`);
  const columns: BaselineColumn[] = [];
  for (const [name, h0] of Object.entries<Hist>(p.numeric ?? {})) {
    const h = checkHist(h0, `${where}: profile.numeric.${name}`);
    columns.push({ name, kind: 'numeric', input: name, edges: h.edges, points: midpoints(h.edges), counts: h.counts, std: h.std, mean: h.mean });
  }
  let timestampInput: string | undefined;
  for (const [input, t] of Object.entries<any>(p.time ?? {})) {
    timestampInput ??= input;
    if (t.hour_of_day) {
      const h = checkHist(t.hour_of_day, `${where}: profile.time.${input}.hour_of_day`);
      columns.push({ name: `${input}.hour_of_day`, kind: 'numeric', input, derive: 'hour_of_day', edges: h.edges, points: h.edges.slice(0, -1), counts: h.counts });
    }
    if (t.day_of_week) {
      const h = checkHist(t.day_of_week, `${where}: profile.time.${input}.day_of_week`);
      columns.push({ name: `${input}.day_of_week`, kind: 'categorical', input, derive: 'day_of_week', categories: h.edges.slice(0, -1).map((d) => DAY_NAMES[d] ?? String(d)), counts: h.counts, minSpanMs: 7 * DAY_MS });
    }
  }
  for (const [name, c] of Object.entries<any>(p.categorical ?? {})) {
    if (!Array.isArray(c?.top)) throw new Error(`${where}: profile.categorical.${name}.top must be an array`);
    const top = c.top.map((t: { value: string; fraction: number }) => ({ value: String(t.value), count: Math.round(Number(t.fraction) * rows) }));
    const other = rows - top.reduce((s: number, t: { count: number }) => s + t.count, 0);
    columns.push({ name, kind: 'categorical', input: name, categories: [...top.map((t: { value: string }) => t.value), OTHER], counts: [...top.map((t: { count: number }) => t.count), Math.max(other, 0)] });
  }
  const ph = checkHist(p.prediction, `${where}: profile.prediction`);
  const prediction: NumericColumn = { name: 'prediction', kind: 'numeric', input: 'prediction', edges: ph.edges, points: midpoints(ph.edges), counts: ph.counts, mean: ph.mean };

  let label: Baseline['label'];
  const names = card.label?.names as [string, string] | undefined;
  if (p.label && Number(p.label.rows) > 0) {
    label = { positiveRate: Number(p.label.positives) / Number(p.label.rows), rows: Number(p.label.rows), source: `profile (${p.window})`, names };
  } else if (card.metrics?.holdout && Number.isFinite(card.metrics.holdout.base_rate)) {
    label = { positiveRate: card.metrics.holdout.base_rate, rows: card.metrics.holdout.rows, source: 'metrics.holdout.base_rate', names };
  }
  return {
    model: String(card.name ?? ''),
    version: Number(card.version ?? 0),
    window: String(p.window ?? ''),
    rows,
    columns,
    prediction,
    label,
    heldOutAuc: Number.isFinite(card.metrics?.holdout?.auc) ? card.metrics.holdout.auc : undefined,
    threshold: Number.isFinite(card.threshold) ? card.threshold : undefined,
    timestampInput,
  };
}

/** Reads <repository>/<model>/<version>/card.json; null when the version has none. */
export function loadBaseline(repository: string, model: string, version: number): Baseline | null {
  const file = path.join(repository, model, String(version), 'card.json');
  if (!fs.existsSync(file)) return null;
  const card = JSON.parse(fs.readFileSync(file, 'utf8'));
  const b = baselineFromCard(card, `${model}/${version}/card.json`);
  return { ...b, model, version };
}
