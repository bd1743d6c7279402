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

/**
 * How a column turns a row into its bin. Time-derived columns take the row's timestamp as
 * epoch ms (`t`, parsed once per row for all of them); the others the raw value `v`.
 */
interface ColumnEncoder {
  usesTime: boolean;
  bin(v: unknown, t: number): number;
}

function columnEncoder(c: BaselineColumn): ColumnEncoder {
  if (c.kind === 'numeric') {
    if (c.derive === 'hour_of_day') {
      return { usesTime: true, bin: (_v, t) => (Number.isFinite(t) ? binOf(c.edges, Math.floor(minuteOfDay(t) / 60)) : -1) };
    }
    return { usesTime: false, bin: (v) => (typeof v === 'number' && Number.isFinite(v) ? binOf(c.edges, v) : -1) };
  }
  if (c.derive === 'day_of_week') {
    return { usesTime: true, bin: (_v, t) => (Number.isFinite(t) ? dayOfWeek(t) : -1) };
  }
  const index = new Map(c.categories.map((v, i) => [v, i]));
  const other = index.get(OTHER)!;
  return { usesTime: false, bin: (v) => (v === undefined || v === null || v === '' ? -1 : index.get(String(v)) ?? other) };
}

/** Encoders for one baseline, built once per model version. */
export class RowEncoder {
  private readonly encoders: ColumnEncoder[];

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
    // Event time per row: the timestamp input parsed once, for the event clock and for every
    // time-derived column (the baseline derives them from that same input).
    const eventMs = new Float64Array(n).fill(NaN);
    const ts = this.baseline.timestampInput;
    if (ts && features) {
      const get = accessor(obs, ts);
      for (let r = 0; r < n; r++) eventMs[r] = toEpochMs(get(r));
    }
    if (features) {
      const columns = this.baseline.columns;
      for (let j = 0; j < k; j++) {
        const enc = this.encoders[j];
        const input = columns[j].input;
        const get = accessor(obs, input);
        const sameTime = enc.usesTime && input === ts;
        for (let r = 0; r < n; r++) {
          const v = get(r);
          bins[r * k + j] = enc.bin(v, !enc.usesTime ? NaN : sameTime ? eventMs[r] : toEpochMs(v));
        }
      }
    }
    return { rows: n, columns: k, bins, predictions: Float64Array.from(obs.predictions, Number), features, eventMs };
  }
}
