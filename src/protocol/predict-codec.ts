import { ModelConfig, PredictConfig } from '../config/model-config';
import { InferaError } from '../errors';
import { DATATYPES, FixedDataType, Tensor, TypedArray, numberAt } from './datatypes';
import type { Columns, FeatureSpec } from '../features';
import { NativeFeatureTransform } from '../native/features';

function bad(detail: string): InferaError {
  return new InferaError('ENG_ERR_BAD_REQUEST', detail);
}

/** A constant input for `rows` rows (its batch axis, if dynamic, sized to the rows). */
function fillTensor(cfg: ModelConfig, name: string, value: number, rows: number): Tensor {
  const t = cfg.inputs.find((i) => i.name === name)!;
  const shape = t.shape.map((d, i) => (d >= 0 ? d : i === 0 ? rows : 1));
  const n = shape.reduce((a, b) => a * b, 1);
  // model-config.ts admits only FP32/FP64 and integer inputs under `predict`.
  const data = DATATYPES[t.datatype as FixedDataType].alloc(n);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) data.fill(BigInt(value) as never);
  else (data as Float32Array).fill(value);
  return { name, datatype: t.datatype, shape, data };
}

/**
 * Checks that `features` is one flat row: a JSON object whose values are scalars or arrays of
 * scalars. Runs before anything walks the value (a cache key, a transform, the prediction log),
 * so a nested body cannot exhaust the stack.
 * @throws InferaError 400 ENG_ERR_BAD_REQUEST naming the offending field.
 */
export function checkFeatureRow(features: unknown, where = "'features'"): Record<string, unknown> {
  if (typeof features !== 'object' || features === null || Array.isArray(features)) throw bad(`${where} must be an object of feature name → value`);
  const scalar = (x: unknown) => x === null || typeof x !== 'object';
  for (const [k, v] of Object.entries(features)) {
    if (scalar(v)) continue;
    if (Array.isArray(v) && v.every(scalar)) continue;
    throw bad(`${where === "'features'" ? '' : `${where}: `}feature '${k.slice(0, 64)}' must be a number, a string, a boolean or an array of numbers, not a nested object or array`);
  }
  return features as Record<string, unknown>;
}

/** Most rows one /predict request may carry in `instances`. */
export const MAX_PREDICT_INSTANCES = 10_000;

/** The rows of a /predict body and their ids (given or new). */
export interface PredictRows {
  rows: Record<string, unknown>[];
  /** The client's ids (`id`, or `ids` for `instances`), or null: the server makes them. */
  ids: string[] | null;
  /** `features` (one row, answered as one object) rather than `instances` (answered as a list). */
  single: boolean;
}

/**
 * Reads the rows of a /predict body: `features` (one row) or `instances` (a list of rows, as
 * KServe v1 and TF Serving spell it), with optional client ids (`id` / `ids`).
 * @throws InferaError 400 naming the offending field (and row).
 */
export function readPredictRows(body: Record<string, unknown>): PredictRows {
  const hasFeatures = body.features !== undefined;
  const hasInstances = body.instances !== undefined;
  if (hasFeatures === hasInstances) throw bad("send 'features' (one row: an object of feature name → value) or 'instances' (a list of such rows), not both or neither");
  if (hasFeatures) {
    const id = body.id;
    if (id !== undefined && (typeof id !== 'string' || id === '')) throw bad("'id' must be a non-empty string");
    return { rows: [checkFeatureRow(body.features)], ids: id === undefined ? null : [id as string], single: true };
  }
  const list = body.instances;
  if (!Array.isArray(list) || list.length === 0) throw bad("'instances' must be a non-empty list of rows");
  if (list.length > MAX_PREDICT_INSTANCES) throw bad(`'instances' holds ${list.length} rows; at most ${MAX_PREDICT_INSTANCES} per request`);
  const rows = list.map((r, i) => checkFeatureRow(r, `instances[${i}]`));
  let ids: string[] | null = null;
  if (body.ids !== undefined) {
    if (!Array.isArray(body.ids) || body.ids.length !== rows.length || !body.ids.every((x) => typeof x === 'string' && x !== '')) {
      throw bad(`'ids' must be a list of ${rows.length} non-empty strings, one per instance`);
    }
    ids = body.ids as string[];
  }
  if (body.id !== undefined) throw bad("'id' names one row; with 'instances' send 'ids'");
  return { rows, ids, single: false };
}

/**
 * Turns /predict rows into the model's input tensors, as model.json's `predict` section
 * declares: each row's features in order as one row of `predict.input`, the other inputs
 * filled with constants. With a saved feature spec the rows go through it (natively).
 * @throws InferaError 400 naming the missing or invalid field (and row, for several rows).
 */
export function featuresToInputs(cfg: ModelConfig, rows: Record<string, unknown>[], spec?: FeatureSpec): { inputs: Tensor[]; unknownCategories: number } {
  const p = cfg.predict as PredictConfig;
  if (spec) return specToInputs(cfg, p, rows, spec);
  const values: number[] = [];
  rows.forEach((f, r) => {
    const where = rows.length > 1 ? ` (row ${r})` : '';
    for (const spec of p.features) {
      const v = f[spec.name];
      if (v === undefined) throw bad(`missing feature '${spec.name}'${where}`);
      const len = spec.length ?? 1;
      const arr = len === 1 && !Array.isArray(v) ? [v] : v;
      if (!Array.isArray(arr) || arr.length !== len) throw bad(`feature '${spec.name}'${where} must be ${len === 1 ? 'a number' : `an array of ${len} numbers`}`);
      for (const x of arr) {
        if (typeof x !== 'number' || !Number.isFinite(x)) throw bad(`feature '${spec.name}'${where} must hold finite numbers`);
        values.push(x);
      }
    }
    for (const k of Object.keys(f)) {
      if (!p.features.some((s) => s.name === k)) throw bad(`unknown feature '${k}'${where}; expected ${p.features.map((s) => `'${s.name}'`).join(', ')}`);
    }
  });
  const inputCfg = cfg.inputs.find((i) => i.name === p.input)!;
  const rank = inputCfg.shape.length;
  // Dynamic dims: the batch axis (first, when there is more than one) takes the rows, the
  // last the features, any other 1; a rank-1 input holds all values.
  const shape = inputCfg.shape.map((d, i) => (d >= 0 ? d : rank === 1 ? values.length : i === 0 ? rows.length : i === rank - 1 ? values.length / rows.length : 1));
  const data: TypedArray = DATATYPES[inputCfg.datatype as FixedDataType].alloc(values.length);
  (data as Float32Array).set(values);
  const main: Tensor = { name: p.input, datatype: inputCfg.datatype, shape, data };
  return { inputs: cfg.inputs.map((t) => (t.name === p.input ? main : fillTensor(cfg, t.name, p.fill![t.name], rows.length))), unknownCategories: 0 };
}

/**
 * Runs the saved feature spec on the rows: the trainer's transform (bit for bit, see
 * src/native/features.ts) with the training statistics, never statistics of the request;
 * validated and computed by the addon (one row: one call, no columns built).
 */
function specToInputs(cfg: ModelConfig, p: PredictConfig, rows: Record<string, unknown>[], spec: FeatureSpec): { inputs: Tensor[]; unknownCategories: number } {
  let t;
  try {
    const native = NativeFeatureTransform.of(spec);
    t = rows.length === 1 ? native.transformRow(rows[0]) : native.transformSync(rowsToColumns(spec, rows));
  } catch (e) {
    throw e instanceof InferaError ? e : bad((e as Error).message);
  }
  const main: Tensor = { name: p.input, datatype: 'FP32', shape: [rows.length, t.width], data: t.data };
  return { inputs: cfg.inputs.map((i) => (i.name === p.input ? main : fillTensor(cfg, i.name, p.fill![i.name], rows.length))), unknownCategories: t.unknownCategories };
}

/** Rows → the columns of the spec's inputs; a field the spec does not know is refused, naming the row. */
function rowsToColumns(spec: FeatureSpec, rows: Record<string, unknown>[]): Columns {
  const known = new Set(spec.inputs.map((f) => f.name));
  rows.forEach((row, r) => {
    for (const k in row) if (!known.has(k)) throw bad(`field '${k}' (row ${r}): unknown (expected ${spec.inputs.map((i) => `'${i.name}'`).join(', ')})`);
  });
  const columns: Columns = {};
  for (const f of spec.inputs) columns[f.name] = rows.map((row) => row[f.name]) as (string | number)[];
  return columns;
}

export interface Prediction {
  prediction: number | string;
  confidence: number | null;
  probabilities?: number[];
}

/** Reads row `row` of `rows` from the declared output. */
export function outputToPrediction(p: PredictConfig, out: Tensor, row = 0, rows = 1): Prediction {
  const width = out.data.length / rows;
  const v = Array.from({ length: width }, (_, j) => numberAt(out, row * width + j));
  if (p.task === 'regression') return { prediction: v[0], confidence: null };
  if (p.task === 'binary') {
    // One probability (of the positive class) or two columns [p0, p1].
    const p1 = v.length >= 2 ? v[1] : v[0];
    const positive = p1 >= (p.threshold ?? 0.5);
    const label = p.labels ? p.labels[positive ? 1 : 0] : positive ? 1 : 0;
    return { prediction: label, confidence: positive ? p1 : 1 - p1, probabilities: [1 - p1, p1] };
  }
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return { prediction: p.labels ? p.labels[best] : best, confidence: v[best], probabilities: v };
}
