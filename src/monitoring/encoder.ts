/**
 * Turns observed rows into bin indices on the baseline's bins, once per row, so each
 * window the row belongs to only adds integers. Binning is the training profile's own
 * (`binOf` of src/pipeline/profile.ts, time features from src/features): a live value
 * lands in exactly the bin the same value landed in at training time.
 */
import { dayOfWeek, minuteOfDay, toEpochMs } from '../features';
import { binOf } from '../stats/histogram';
import { Baseline, BaselineColumn, OTHER } from './baseline';

/** What the hot path hands over: raw feature rows or columns, and one prediction per row. */
export interface Observation {
  /** Feature dicts as /predict received them, e.g. {date, distance, origin, destination}. */
  rows?: Record<string, unknown>[];
  /** Or the same as columns: name → values. */
  columns?: Record<string, ArrayLike<unknown>>;
  /** Positive-class probability (binary) or the predicted value, one per row. */
  predictions: ArrayLike<number>;
  /** Request ids, one per row, for joining delayed labels. */
  ids?: ArrayLike<string>;
  /** Server-side latency of the request that produced these rows. */
  latencyMs?: number;
}

/** A batch of encoded rows: bins[row * columns + c] (−1 = missing or invalid). */
export interface EncodedRows {
  rows: number;
  columns: number;
  bins: Int32Array;
  predictions: Float64Array;
  /** false when only predictions were observed (no feature values to count). */
  features: boolean;
  /** Event time per row (the model's timestamp input), NaN when absent. */
  eventMs: Float64Array;
}

type ValueOf = (row: number) => unknown;

function accessor(obs: Observation, input: string): ValueOf {
  if (obs.columns) {
    const col = obs.columns[input];
    return col ? (r) => col[r] : () => undefined;
  }
  const rows = obs.rows ?? [];
  return (r) => rows[r]?.[input];
}

function columnEncoder(c: BaselineColumn): (v: unknown) => number {
  if (c.kind === 'numeric') {
    if (c.derive === 'hour_of_day') {
      return (v) => {
        const t = toEpochMs(v);
        return Number.isFinite(t) ? binOf(c.edges, Math.floor(minuteOfDay(t) / 60)) : -1;
      };
    }
    return (v) => (typeof v === 'number' && Number.isFinite(v) ? binOf(c.edges, v) : -1);
  }
  if (c.derive === 'day_of_week') {
    return (v) => {
      const t = toEpochMs(v);
      return Number.isFinite(t) ? dayOfWeek(t) : -1;
    };
  }
  const index = new Map(c.categories.map((v, i) => [v, i]));
  const other = index.get(OTHER)!;
  return (v) => (v === undefined || v === null || v === '' ? -1 : index.get(String(v)) ?? other);
}

/** Encoders for one baseline, built once per model version. */
export class RowEncoder {
  private readonly encoders: ((v: unknown) => number)[];

  constructor(readonly baseline: Baseline) {
    this.encoders = baseline.columns.map(columnEncoder);
  }

  get columnCount(): number {
    return this.encoders.length;
  }

  /** @throws Error when predictions and rows disagree in number. */
  encode(obs: Observation): EncodedRows {
    const n = obs.predictions.length;
    const given = obs.columns ? Object.values(obs.columns)[0]?.length ?? n : obs.rows?.length ?? n;
    if (given !== n) throw new Error(`monitoring: ${given} feature rows for ${n} predictions`);
    const k = this.encoders.length;
    const bins = new Int32Array(n * k);
    const features = Boolean(obs.rows || obs.columns);
    if (features) {
      this.baseline.columns.forEach((c, j) => {
        const get = accessor(obs, c.input);
        const enc = this.encoders[j];
        for (let r = 0; r < n; r++) bins[r * k + j] = enc(get(r));
      });
    }
    const eventMs = new Float64Array(n).fill(NaN);
    const ts = this.baseline.timestampInput;
    if (ts && features) {
      const get = accessor(obs, ts);
      for (let r = 0; r < n; r++) eventMs[r] = toEpochMs(get(r));
    }
    return { rows: n, columns: k, bins, predictions: Float64Array.from(obs.predictions, Number), features, eventMs };
  }
}
