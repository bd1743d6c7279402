/**
 * transform(spec, columns): raw column-wise inputs → Float32Array [rows × width]
 * (transformSparse: the same features as (column, value) entries per row).
 * The one code path for training, evaluation and serving: a single-row call at serving
 * time produces exactly the row that the batch call produced during training.
 */
import { blockWidth, FeatureBlock, FeatureSpec, InputField } from './feature-spec';
import { dayOfWeek, minuteOfDay, toEpochMs } from './time';

/** Column-wise inputs: name → values (for flights: date, distance, origin, destination). */
export type Columns = Record<string, ArrayLike<string | number>>;

/** The flights-delay inputs as the server receives them. */
export interface FlightColumns extends Columns {
  date: ArrayLike<string | number>;
  distance: ArrayLike<number>;
  origin: ArrayLike<string>;
  destination: ArrayLike<string>;
}

export interface TransformResult {
  /** Row-major [rows × width]. */
  data: Float32Array;
  rows: number;
  width: number;
  /** Categorical values (over all rows and fields) that fell into an unknown bucket. */
  unknownCategories: number;
}

const TWO_PI = 2 * Math.PI;

export function normalizeCategory(v: string, how: 'none' | 'trim_upper'): string {
  return how === 'trim_upper' ? v.trim().toUpperCase() : v;
}

/** 32-bit FNV-1a over UTF-16 code units: stable across platforms and releases. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const vocabCache = new WeakMap<FeatureBlock, Map<string, number>>();
function vocabIndex(b: Extract<FeatureBlock, { kind: 'categorical' }>): Map<string, number> {
  let m = vocabCache.get(b);
  if (!m) {
    m = new Map(b.vocabulary.map((v, i) => [v, i]));
    vocabCache.set(b, m);
  }
  return m;
}

function describe(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
}

/** Checks and converts one value; the message names the field (mapped to HTTP 400 at serving). */
function invalid(field: InputField, row: number | null, v: unknown): Error {
  const where = row === null ? `field '${field.name}'` : `field '${field.name}' (row ${row})`;
  const expected = field.type === 'timestamp'
    ? 'an ISO date-time like "2001-02-03T14:05:00" (UTC when no offset) or epoch milliseconds'
    : field.type === 'number' ? 'a finite number' : 'a non-empty string';
  return new Error(`${where}: expected ${expected}, got ${describe(v)}`);
}

function numbersOf(field: InputField, col: ArrayLike<unknown>, rows: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const v = col[r];
    const x = field.type === 'timestamp' ? toEpochMs(v) : typeof v === 'number' ? v : NaN;
    if (!Number.isFinite(x)) throw invalid(field, r, v);
    out[r] = x;
  }
  return out;
}

function stringsOf(field: InputField, col: ArrayLike<unknown>, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const v = col[r];
    if (typeof v !== 'string' || v.trim() === '') throw invalid(field, r, v);
  }
}

/** Rows of a column set; every declared input must be present with the same length. */
function rowCount(spec: FeatureSpec, columns: Columns): number {
  let rows = -1;
  for (const f of spec.inputs) {
    const col = columns[f.name];
    if (!col || typeof col.length !== 'number') throw new Error(`field '${f.name}': missing column`);
    if (rows >= 0 && col.length !== rows) throw new Error(`field '${f.name}': ${col.length} values, other columns have ${rows}`);
    rows = col.length;
  }
  return Math.max(rows, 0);
}

/** Non-zero candidates per row of a block: every row has the same count (ELL layout). */
function entriesPerRow(b: FeatureBlock): number {
  return b.kind === 'cyclic' ? 2 : 1;
}

/**
 * The tensor in sparse form: every row has exactly `perRow` (column, value) entries, at
 * distinct columns (values may be 0). This is the one implementation of the features;
 * `transform` scatters it into the dense tensor, the trainer uses it directly (a one-hot
 * row of ~2400 columns has ~15 entries).
 */
export interface SparseRows {
  rows: number;
  width: number;
  perRow: number;
  /** Row-major [rows × perRow] column indices and values. */
  indices: Uint32Array;
  values: Float32Array;
  unknownCategories: number;
}

/**
 * Raw columns → model input, sparse. Deterministic: the same values give the same bytes.
 * @throws Error naming the field (and row) of a missing or invalid value.
 */
export function transformSparse(spec: FeatureSpec, columns: Columns): SparseRows {
  const rows = rowCount(spec, columns);
  const perRow = spec.blocks.reduce((n, b) => n + entriesPerRow(b), 0);
  const indices = new Uint32Array(rows * perRow);
  const values = new Float32Array(rows * perRow);
  // Parse each numeric/timestamp input once, check string inputs once.
  const numeric = new Map<string, Float64Array>();
  for (const f of spec.inputs) {
    if (f.type === 'string') stringsOf(f, columns[f.name], rows);
    else numeric.set(f.name, numbersOf(f, columns[f.name], rows));
  }
  let unknown = 0;
  let off = 0; // first column of the block
  let e = 0; // first entry slot of the block within a row
  const put = (r: number, slot: number, col: number, v: number) => {
    indices[r * perRow + slot] = col;
    values[r * perRow + slot] = v;
  };
  for (const b of spec.blocks) {
    switch (b.kind) {
      case 'numeric': {
        const x = numeric.get(b.input)!;
        for (let r = 0; r < rows; r++) {
          const v = b.transform === 'log1p' ? Math.log1p(Math.max(x[r], 0)) : x[r];
          const z = (v - b.mean) / b.std;
          put(r, e, off, z > b.clip ? b.clip : z < -b.clip ? -b.clip : z);
        }
        break;
      }
      case 'cyclic': {
        const t = numeric.get(b.input)!;
        for (let r = 0; r < rows; r++) {
          const mod = minuteOfDay(t[r]);
          const frac = b.unit === 'hour_of_day' ? mod / 1440 : (dayOfWeek(t[r]) + mod / 1440) / 7;
          put(r, e, off, Math.sin(TWO_PI * frac));
          put(r, e + 1, off + 1, Math.cos(TWO_PI * frac));
        }
        break;
      }
      case 'time_onehot': {
        const t = numeric.get(b.input)!;
        for (let r = 0; r < rows; r++) {
          const k = b.unit === 'hour_of_day' ? Math.floor(minuteOfDay(t[r]) / 60) : dayOfWeek(t[r]);
          put(r, e, off + k, 1);
        }
        break;
      }
      case 'categorical': {
        const col = columns[b.input] as ArrayLike<string>;
        const index = vocabIndex(b);
        const unk = b.vocabulary.length;
        for (let r = 0; r < rows; r++) {
          const k = index.get(normalizeCategory(col[r], b.normalize));
          if (k === undefined) unknown++;
          put(r, e, off + (k ?? unk), 1);
        }
        break;
      }
      case 'cross_hour': {
        const col = columns[b.input] as ArrayLike<string>;
        const t = numeric.get(b.time_input)!;
        for (let r = 0; r < rows; r++) {
          const slot = Math.floor(minuteOfDay(t[r]) / 60 / b.hours_per_slot);
          put(r, e, off + (fnv1a(`${normalizeCategory(col[r], b.normalize)}|${slot}`) % b.buckets), 1);
        }
        break;
      }
    }
    off += blockWidth(b);
    e += entriesPerRow(b);
  }
  return { rows, width: spec.width, perRow, indices, values, unknownCategories: unknown };
}

/**
 * Raw columns → model input, dense row-major [rows × width] (the server's tensor).
 * @throws Error naming the field (and row) of a missing or invalid value.
 */
export function transform(spec: FeatureSpec, columns: Columns): TransformResult {
  const s = transformSparse(spec, columns);
  const data = new Float32Array(s.rows * s.width);
  for (let r = 0; r < s.rows; r++) {
    for (let k = r * s.perRow, end = k + s.perRow; k < end; k++) data[r * s.width + s.indices[k]] = s.values[k];
  }
  return { data, rows: s.rows, width: s.width, unknownCategories: s.unknownCategories };
}

/**
 * Why a request's value of one field is refused (missing, or not the field's type), or null
 * when it is taken: the one rule for /predict rows and batch-scored rows alike.
 */
export function fieldProblem(spec: FeatureSpec, f: InputField, v: unknown): string | null {
  if (v === undefined || v === null) return `field '${f.name}': missing (expected ${spec.inputs.map((i) => `'${i.name}'`).join(', ')})`;
  const ok = f.type === 'timestamp' ? Number.isFinite(toEpochMs(v))
    : f.type === 'number' ? typeof v === 'number' && Number.isFinite(v)
      : typeof v === 'string' && v.trim() !== '';
  return ok ? null : invalid(f, null, v).message;
}

/**
 * Checks one /predict feature dict and returns it as one-row columns for `transform`.
 * @throws Error naming the first missing, invalid or unknown field.
 */
export function validateRow(spec: FeatureSpec, row: Record<string, unknown>): Columns {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error("features: expected an object of field name → value");
  const out: Record<string, (string | number)[]> = {};
  for (const f of spec.inputs) {
    const v = row[f.name];
    const problem = fieldProblem(spec, f, v);
    if (problem) throw new Error(problem);
    out[f.name] = [v as string | number];
  }
  for (const k of Object.keys(row)) {
    if (!spec.inputs.some((f) => f.name === k)) throw new Error(`field '${k}': unknown (expected ${spec.inputs.map((i) => `'${i.name}'`).join(', ')})`);
  }
  return out;
}
