import { ModelConfig, PredictConfig } from '../config/model-config';
import { InferaError } from '../errors';
import { DATATYPES, Tensor, TypedArray } from './datatypes';
import type { FeatureSpec } from '../features';
import { NativeFeatureTransform } from '../native/features';

function bad(detail: string): InferaError {
  return new InferaError('ENG_ERR_BAD_REQUEST', detail);
}

function fillTensor(cfg: ModelConfig, name: string, value: number): Tensor {
  const t = cfg.inputs.find((i) => i.name === name)!;
  const shape = t.shape.map((d) => (d < 0 ? 1 : d));
  const n = shape.reduce((a, b) => a * b, 1);
  const data = DATATYPES[t.datatype].alloc(n);
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
export function checkFeatureRow(features: unknown): Record<string, unknown> {
  if (typeof features !== 'object' || features === null || Array.isArray(features)) throw bad("'features' must be an object of feature name → value");
  const scalar = (x: unknown) => x === null || typeof x !== 'object';
  for (const [k, v] of Object.entries(features)) {
    if (scalar(v)) continue;
    if (Array.isArray(v) && v.every(scalar)) continue;
    throw bad(`feature '${k.slice(0, 64)}' must be a number, a string, a boolean or an array of numbers, not a nested object or array`);
  }
  return features as Record<string, unknown>;
}

/**
 * Turns a /predict feature dict into the model's input tensors, as model.json's
 * `predict` section declares: features in order as one row of `predict.input`,
 * the other inputs filled with constants.
 * @throws InferaError 400 naming the missing or invalid field.
 */
export function featuresToInputs(cfg: ModelConfig, features: unknown, spec?: FeatureSpec): { inputs: Tensor[]; unknownCategories: number } {
  const p = cfg.predict as PredictConfig;
  if (spec) return specToInputs(cfg, p, features, spec);
  if (typeof features !== 'object' || features === null || Array.isArray(features)) throw bad("'features' must be an object of feature name → value");
  const f = features as Record<string, unknown>;
  const values: number[] = [];
  for (const spec of p.features) {
    const v = f[spec.name];
    if (v === undefined) throw bad(`missing feature '${spec.name}'`);
    const len = spec.length ?? 1;
    const arr = len === 1 && !Array.isArray(v) ? [v] : v;
    if (!Array.isArray(arr) || arr.length !== len) throw bad(`feature '${spec.name}' must be ${len === 1 ? 'a number' : `an array of ${len} numbers`}`);
    for (const x of arr) {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw bad(`feature '${spec.name}' must hold finite numbers`);
      values.push(x);
    }
  }
  for (const k of Object.keys(f)) {
    if (!p.features.some((s) => s.name === k)) throw bad(`unknown feature '${k}'; expected ${p.features.map((s) => `'${s.name}'`).join(', ')}`);
  }
  const inputCfg = cfg.inputs.find((i) => i.name === p.input)!;
  const shape = inputCfg.shape.map((d, i) => (d >= 0 ? d : i === inputCfg.shape.length - 1 ? values.length : 1));
  const data: TypedArray = DATATYPES[inputCfg.datatype].alloc(values.length);
  (data as Float32Array).set(values);
  const main: Tensor = { name: p.input, datatype: inputCfg.datatype, shape, data };
  return { inputs: cfg.inputs.map((t) => (t.name === p.input ? main : fillTensor(cfg, t.name, p.fill![t.name]))), unknownCategories: 0 };
}

/**
 * Runs the saved feature spec on one feature dict: the trainer's transform (bit for bit, see
 * src/native/features.ts) with the training statistics, never statistics of the request;
 * validated and computed by the addon in one call.
 */
function specToInputs(cfg: ModelConfig, p: PredictConfig, features: unknown, spec: FeatureSpec): { inputs: Tensor[]; unknownCategories: number } {
  if (typeof features !== 'object' || features === null || Array.isArray(features)) throw bad('features: expected an object of field name → value');
  let t;
  try {
    t = NativeFeatureTransform.of(spec).transformRow(features as Record<string, unknown>);
  } catch (e) {
    throw e instanceof InferaError ? e : bad((e as Error).message);
  }
  const main: Tensor = { name: p.input, datatype: 'FP32', shape: [1, t.width], data: t.data };
  return { inputs: cfg.inputs.map((i) => (i.name === p.input ? main : fillTensor(cfg, i.name, p.fill![i.name]))), unknownCategories: t.unknownCategories };
}

export interface Prediction {
  prediction: number | string;
  confidence: number | null;
  probabilities?: number[];
}

/** Reads the prediction from the declared output (row 0). */
export function outputToPrediction(p: PredictConfig, out: Tensor): Prediction {
  const v = Array.from(out.data as Float32Array, Number);
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
