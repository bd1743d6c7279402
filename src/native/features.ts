/**
 * The feature spec executed natively (native/src/features/): column-wise raw inputs → one
 * Float32Array [rows x width], equal to the TypeScript `transform` of src/features bit for
 * bit. How exactness is kept:
 *  - numeric blocks use the same float64 arithmetic (log1p: C's log1p, the fdlibm algorithm
 *    V8 also uses; tested on every distinct distance of flights-3m);
 *  - sin/cos of the cyclic blocks come from tables this module computes with Math.sin /
 *    Math.cos and the transform's own expressions (one entry per minute of the day / week);
 *  - strings travel as UTF-16, so vocabulary lookups and the FNV-1a of cross_hour see the
 *    same code units; ISO timestamps are parsed natively with time.ts's grammar;
 *  - what only JavaScript defines is left to it: rows whose trim_upper category has
 *    non-ASCII text (Unicode case mapping) are recomputed here by `transform`, and any
 *    invalid value makes the whole call fall back to `transform` (or, for one row,
 *    `validateRow`), which throws its message.
 * This is the serving path's transform (/predict rows go through transformRow); the
 * TypeScript `transform` is the trainer's and the tests' reference.
 * The addon is loaded by binding.ts.
 */
import { blockWidth, checkFeatureSpec, FeatureSpec, transform, toEpochMs, validateRow } from '../features';
import type { Columns, TransformResult } from '../features';
import { InferaError } from '../errors';
import { loadBinding } from './binding';

export type FeaturePlanHandle = { readonly __featurePlan: unique symbol };

/** A column as the addon takes it: numbers (epoch ms for timestamps) or UTF-16 text. */
export type NativeColumn = Float64Array | { text: string; lengths: Int32Array };

export interface NativeFeaturePlan {
  width: number;
  fields: { name: string; type: 'number' | 'timestamp' | 'string' }[];
  blocks: Record<string, unknown>[];
  hourTable: Float32Array;
  weekTable: Float32Array;
}

interface NativeOutcome {
  data: Float32Array;
  unknown: number;
  fallbackRows: Int32Array;
  invalid: boolean;
}

/** Raw addon exports of the feature transform. */
export interface FeatureBinding {
  compileFeatureSpec(plan: NativeFeaturePlan): FeaturePlanHandle;
  transformFeatures(handle: FeaturePlanHandle, columns: NativeColumn[], rows: number, threads?: number, out?: Float32Array): Promise<NativeOutcome>;
  transformFeaturesSync(handle: FeaturePlanHandle, columns: NativeColumn[], rows: number, out?: Float32Array): NativeOutcome;
  transformRowSync(handle: FeaturePlanHandle, values: unknown[], out: Float32Array): number;
}

/** transformRowSync's answers besides an unknown-category count. */
const ROW_INVALID = -1;
const ROW_NEEDS_JS = -2;

/**
 * Batches of at most this many rows are transformed inline: the marshalling already costs
 * more than an AsyncWorker round trip saves (~20 µs; measured by scripts/measure-kernels.ts).
 */
export const FEATURES_SYNC_MAX_ROWS = 64;

const TWO_PI = 2 * Math.PI;

/** sin/cos tables with transform.ts's expressions, stored as float32 like its output. */
function tables(): { hourTable: Float32Array; weekTable: Float32Array } {
  const hourTable = new Float32Array(1440 * 2);
  for (let mod = 0; mod < 1440; mod++) {
    const frac = mod / 1440;
    hourTable[2 * mod] = Math.sin(TWO_PI * frac);
    hourTable[2 * mod + 1] = Math.cos(TWO_PI * frac);
  }
  const weekTable = new Float32Array(10080 * 2);
  for (let dow = 0; dow < 7; dow++) {
    for (let mod = 0; mod < 1440; mod++) {
      const frac = (dow + mod / 1440) / 7;
      weekTable[2 * (dow * 1440 + mod)] = Math.sin(TWO_PI * frac);
      weekTable[2 * (dow * 1440 + mod) + 1] = Math.cos(TWO_PI * frac);
    }
  }
  return { hourTable, weekTable };
}

function planOf(spec: FeatureSpec): NativeFeaturePlan {
  const index = new Map(spec.inputs.map((f, i) => [f.name, i]));
  let offset = 0;
  const blocks = spec.blocks.map((b) => {
    const common = { kind: b.kind, input: index.get(b.input)!, offset };
    offset += blockWidth(b);
    switch (b.kind) {
      case 'numeric': return { ...common, transform: b.transform, mean: b.mean, std: b.std, clip: b.clip };
      case 'cyclic': case 'time_onehot': return { ...common, unit: b.unit };
      case 'categorical': return { ...common, normalize: b.normalize, vocabulary: b.vocabulary };
      case 'cross_hour': return { ...common, normalize: b.normalize, timeInput: index.get(b.time_input)!, hoursPerSlot: b.hours_per_slot, buckets: b.buckets };
    }
  });
  return { width: spec.width, fields: spec.inputs.map((f) => ({ name: f.name, type: f.type })), blocks, ...tables() };
}

/** UTF-16 text of all rows and their lengths; null when a value is not a string. */
function textColumn(col: ArrayLike<unknown>, rows: number): { text: string; lengths: Int32Array } | null {
  const lengths = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const v = col[r];
    if (typeof v !== 'string') return null;
    lengths[r] = v.length;
  }
  return { text: Array.prototype.join.call(col, ''), lengths };
}

/** The columns in the addon's form; null when TypeScript must handle the call (errors). */
function marshal(spec: FeatureSpec, columns: Columns): { cols: NativeColumn[]; rows: number } | null {
  let rows = -1;
  const cols: NativeColumn[] = [];
  for (const f of spec.inputs) {
    const col = columns[f.name] as ArrayLike<unknown> | undefined;
    if (!col || typeof col.length !== 'number' || (rows >= 0 && col.length !== rows)) return null;
    rows = col.length;
    if (col instanceof Float64Array && f.type !== 'string') {
      cols.push(col);
      continue;
    }
    if (f.type === 'string' || (f.type === 'timestamp' && rows > 0 && typeof col[0] === 'string')) {
      const t = textColumn(col, rows);
      if (t) {
        cols.push(t);
        continue;
      }
      if (f.type === 'string') return null;
    }
    const nums = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const v = col[r];
      nums[r] = f.type === 'timestamp' ? toEpochMs(v) : typeof v === 'number' ? v : NaN;
    }
    cols.push(nums);
  }
  return { cols, rows: Math.max(rows, 0) };
}

const compiled = new WeakMap<FeatureSpec, NativeFeatureTransform>();

/** A feature spec compiled for the addon. */
export class NativeFeatureTransform {
  private readonly fieldNames: string[];
  private readonly known: Set<string>;

  private constructor(readonly spec: FeatureSpec, private readonly handle: FeaturePlanHandle) {
    this.fieldNames = spec.inputs.map((f) => f.name);
    this.known = new Set(this.fieldNames);
  }

  /**
   * The compiled transform of a spec object, compiled on first use and kept while the spec
   * object lives (a model version's spec lives as long as the version).
   * @throws as {@link NativeFeatureTransform.compile}.
   */
  static of(spec: FeatureSpec): NativeFeatureTransform {
    let t = compiled.get(spec);
    if (!t) {
      t = NativeFeatureTransform.compile(spec);
      compiled.set(spec, t);
    }
    return t;
  }

  /**
   * Compiles a spec (vocabulary maps, sin/cos tables) once.
   * @returns the compiled transform.
   * @throws Error when the spec fails checkFeatureSpec; TypeError/RangeError from the addon
   *   for an inconsistent plan.
   */
  static compile(spec: FeatureSpec): NativeFeatureTransform {
    checkFeatureSpec(spec);
    return new NativeFeatureTransform(spec, loadBinding().compileFeatureSpec(planOf(spec)));
  }

  /**
   * One /predict feature dict → one model row [1 x width], validated and transformed in one
   * native call (the values are read by the addon, no columns are built).
   * @returns { data [width], rows: 1, width, unknownCategories }.
   * @throws Error naming the first missing, invalid or unknown field (validateRow's message).
   */
  transformRow(row: Record<string, unknown>): TransformResult {
    for (const k in row) if (!this.known.has(k)) validateRow(this.spec, row); // throws "unknown"
    const values = this.fieldNames.map((n) => row[n]);
    const data = new Float32Array(this.spec.width);
    const code = loadBinding().transformRowSync(this.handle, values, data);
    if (code >= 0) return { data, rows: 1, width: this.spec.width, unknownCategories: code };
    const columns = validateRow(this.spec, row); // ROW_INVALID: throws the field's message
    if (code !== ROW_NEEDS_JS) throw new InferaError('ENG_ERR_INTERNAL', `the native feature transform refused a row the validator accepts (code ${code})`);
    return transform(this.spec, columns); // Unicode case mapping: only JavaScript defines it
  }

  private finish(columns: Columns, rows: number, out: NativeOutcome): TransformResult {
    if (out.invalid) return transform(this.spec, columns); // throws the TypeScript message
    let unknown = out.unknown;
    if (out.fallbackRows.length > 0) {
      const picked: Columns = {};
      for (const f of this.spec.inputs) {
        const col = columns[f.name];
        picked[f.name] = Array.from(out.fallbackRows, (r) => col[r]) as (string | number)[];
      }
      const ts = transform(this.spec, picked);
      const w = this.spec.width;
      out.fallbackRows.forEach((r, i) => out.data.set(ts.data.subarray(i * w, (i + 1) * w), r * w));
      unknown += ts.unknownCategories;
    }
    return { data: out.data, rows, width: this.spec.width, unknownCategories: unknown };
  }

  /**
   * [async] Raw columns → model input, equal to `transform(spec, columns)`. At most
   * FEATURES_SYNC_MAX_ROWS rows run inline, larger batches on the libuv pool, split over up
   * to `threads` compute threads from 2 × 2048 rows on. Inputs must not change until it settles.
   * `out` (rows × width floats) is written and returned as `data` instead of a new tensor: a
   * wide one-hot tensor is megabytes per batch, and faulting in fresh pages for it costs more
   * than computing it (see scripts/measure-kernels.ts); it must not be read until it settles.
   * @returns a Promise of { data [rows x width], rows, width, unknownCategories }.
   * @throws (as a rejection) the TypeScript transform's Error naming the field and row of a
   *   missing or invalid value.
   */
  async transform(columns: Columns, opts: { threads?: number; out?: Float32Array } = {}): Promise<TransformResult> {
    const m = marshal(this.spec, columns);
    if (!m) return transform(this.spec, columns);
    const b = loadBinding();
    const out = m.rows <= FEATURES_SYNC_MAX_ROWS
      ? b.transformFeaturesSync(this.handle, m.cols, m.rows, opts.out)
      : await b.transformFeatures(this.handle, m.cols, m.rows, opts.threads ?? 1, opts.out);
    return this.finish(columns, m.rows, out);
  }

  /**
   * [async] The same transform with the tensor written on the GPU (strings, hashing and
   * timestamp parsing stay on the CPU). Equal to `transform` except numeric log1p columns,
   * which may differ by 1 float32 ulp (CUDA's log1p).
   * @returns a Promise of { data, rows, width, unknownCategories }.
   * @throws Error (as a rejection) "CUDA is not available: <reason>" without a usable device,
   *   or the TypeScript transform's Error for invalid values.
   */
  async transformOnGpu(columns: Columns): Promise<TransformResult> {
    const m = marshal(this.spec, columns);
    if (!m) return transform(this.spec, columns);
    return this.finish(columns, m.rows, await loadBinding().cudaTransformFeatures(this.handle, m.cols, m.rows));
  }

  /**
   * The same on the calling thread (one thread), into `out` when given.
   * @returns { data, rows, width, unknownCategories }.
   * @throws Error as {@link NativeFeatureTransform.transform} rejects; TypeError when `out`
   *   is not a Float32Array of rows × width.
   */
  transformSync(columns: Columns, out?: Float32Array): TransformResult {
    const m = marshal(this.spec, columns);
    if (!m) return transform(this.spec, columns);
    return this.finish(columns, m.rows, loadBinding().transformFeaturesSync(this.handle, m.cols, m.rows, out));
  }
}
