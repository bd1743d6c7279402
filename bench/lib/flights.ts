/**
 * The flights-delay model in the bench: real rows of February 2001 from
 * node_modules/vega-datasets/data/flights-3m.parquet (the model's "future": it was
 * trained on January), read through the pipeline's own ingest (DuckDB) in a
 * deterministic order; /predict feature dicts, prepared tensors (the feature spec's
 * transform), OIP v2 bodies (JSON and binary) and the in-process reference answers.
 */
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadFeatureSpec, transform, type FeatureSpec } from '../../src/features';
import { formatNaive } from '../../src/features/time';
import { Warehouse, ingest, readColumns } from '../../src/data/warehouse';
import type { InputInfo } from './types';

export const FLIGHTS_MODEL = 'flights-delay';
export const FLIGHTS_INFER_PATH = `/v2/models/${FLIGHTS_MODEL}/infer`;
export const PREDICT_PATH = '/predict';
export const FEBRUARY_2001 = { from: '2001-02-01', to: '2001-03-01' };
/** A batched GEMM and a one-row GEMM differ in summation order; seen ≤ 1e-7 (test/integration/predict-flights.test.ts). */
export const FLIGHTS_TOLERANCE = 1e-5;

export function flightsParquet(repoRoot: string): string {
  return path.join(repoRoot, 'node_modules/vega-datasets/data/flights-3m.parquet');
}

/** Files of version 1 of the served flights-delay model. */
export function flightsModelFiles(repository: string): { modelJson: string; model: string; featureSpec: string } {
  const dir = path.join(repository, FLIGHTS_MODEL);
  return { modelJson: path.join(dir, 'model.json'), model: path.join(dir, '1', 'model.onnx'), featureSpec: path.join(dir, '1', 'feature_spec.json') };
}

export interface FlightRows {
  /** epoch ms (naive timestamps read as UTC). */
  date: Float64Array;
  distance: Float64Array;
  origin: string[];
  destination: string[];
  rows: number;
  source: { path: string; sha256: string; rowsInWindow: number };
}

/** `limit` real flights of February 2001: a deterministic, time-spread subset, in time order. */
export async function loadFebruaryFlights(parquet: string, limit: number): Promise<FlightRows> {
  const wh = await Warehouse.open();
  try {
    const ing = await ingest(wh, parquet, 'f', { timestamp: 'date', window: FEBRUARY_2001 });
    const { columns, rows } = await readColumns(wh, 'f', { date: 'epoch_ms', distance: 'number', origin: 'string', destination: 'string' }, { timestamp: 'date', limit });
    return {
      date: columns.date as Float64Array,
      distance: columns.distance as Float64Array,
      origin: columns.origin as string[],
      destination: columns.destination as string[],
      rows,
      source: { path: parquet, sha256: ing.source.sha256, rowsInWindow: ing.rows },
    };
  } finally {
    wh.close();
  }
}

/** Row i as the /predict feature dict a client sends. */
export function featureDict(f: FlightRows, i: number): { date: string; distance: number; origin: string; destination: string } {
  return { date: formatNaive(f.date[i]), distance: f.distance[i], origin: f.origin[i], destination: f.destination[i] };
}

export function predictBody(f: FlightRows, i: number): Buffer {
  return Buffer.from(JSON.stringify({ model: FLIGHTS_MODEL, features: featureDict(f, i) }));
}

/** The model input of every row: the saved feature spec's transform (what the server runs). */
export function prepareTensor(spec: FeatureSpec, f: FlightRows): { data: Float32Array; width: number } {
  const t = transform(spec, { date: f.date, distance: f.distance, origin: f.origin, destination: f.destination });
  return { data: t.data, width: t.width };
}

export function loadSpec(featureSpecPath: string): FeatureSpec {
  return loadFeatureSpec(featureSpecPath);
}

/** P(delay) of every row, in process (onnxruntime-node, one run per 256 rows). */
export async function flightsReference(modelPath: string, tensor: Float32Array, width: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const rows = tensor.length / width;
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r += 256) {
      const n = Math.min(256, rows - r);
      const res = await session.run({ features: new ort.Tensor('float32', tensor.slice(r * width, (r + n) * width), [n, width]) });
      out.set(res.probability.data as Float32Array, r);
    }
    return out;
  } finally {
    await session.release();
  }
}

/** OIP v2 JSON infer body of rows [first, first + n) of the prepared tensor (flat data). */
export function inferJsonBody(tensor: Float32Array, width: number, first: number, n: number, id: string): Buffer {
  const data = Array.from(tensor.subarray(first * width, (first + n) * width));
  return Buffer.from(
    JSON.stringify({ id, inputs: [{ name: 'features', shape: [n, width], datatype: 'FP32', data }], outputs: [{ name: 'probability' }] }),
  );
}

/** The binary tensor extension: JSON header, then the raw little-endian FP32 rows; binary output asked. */
export function inferBinaryBody(tensor: Float32Array, width: number, first: number, n: number): { body: Buffer; headerLength: number } {
  const rows = tensor.subarray(first * width, (first + n) * width);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'features', shape: [n, width], datatype: 'FP32', parameters: { binary_data_size: rows.byteLength } }],
      outputs: [{ name: 'probability', parameters: { binary_data: true } }],
    }),
  );
  return { body: Buffer.concat([header, Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength)]), headerLength: header.length };
}

/** The `probability` output of a JSON infer answer. */
export function parseInferJson(body: Buffer, rows: number): Float32Array {
  const doc = JSON.parse(body.toString('utf8')) as { outputs?: { name: string; shape: number[]; data?: number[] }[] };
  const out = doc.outputs?.find((o) => o.name === 'probability');
  if (!out || !Array.isArray(out.data)) throw new Error('answer has no probability data');
  if (out.shape[0] !== rows || out.data.length !== rows) throw new Error(`probability shape ${JSON.stringify(out.shape)}, ${out.data.length} values; expected ${rows} rows`);
  return Float32Array.from(out.data);
}

/** The `probability` output of a binary infer answer (header length from the response header). */
export function parseInferBinary(body: Buffer, headers: Record<string, string | string[] | undefined>, rows: number): Float32Array {
  const n = Number(headers['inference-header-content-length']);
  if (!Number.isInteger(n) || n <= 0 || n > body.length) throw new Error(`answer has no valid Inference-Header-Content-Length (${String(headers['inference-header-content-length'])})`);
  const head = JSON.parse(body.subarray(0, n).toString('utf8')) as { outputs?: { name: string; parameters?: { binary_data_size?: number } }[] };
  const out = head.outputs?.find((o) => o.name === 'probability');
  if (!out || out.parameters?.binary_data_size !== rows * 4) throw new Error(`binary probability of ${out?.parameters?.binary_data_size} bytes; expected ${rows * 4}`);
  const bytes = new Uint8Array(body.subarray(n, n + rows * 4));
  return new Float32Array(bytes.buffer);
}

/** P(delayed) of a /predict answer. */
export function parsePredict(body: Buffer): number {
  const doc = JSON.parse(body.toString('utf8')) as { probabilities?: number[]; prediction?: unknown };
  if (!Array.isArray(doc.probabilities) || doc.probabilities.length !== 2) throw new Error('answer has no probabilities [p0, p1]');
  return doc.probabilities[1];
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function flightsInputInfo(f: FlightRows, description: string, facts: Record<string, string | number | boolean> = {}): InputInfo {
  return {
    kind: 'flights',
    sources: [{ path: f.source.path, sha256: f.source.sha256 }],
    description: `${description}: ${f.rows} real flights of February 2001 (a deterministic, time-spread subset of its ${f.source.rowsInWindow} rows)`,
    items: f.rows,
    facts: { window: `${FEBRUARY_2001.from} .. ${FEBRUARY_2001.to}`, rowsInWindow: f.source.rowsInWindow, ...facts },
  };
}
