/**
 * Worker thread for the in-process ceiling: one onnxruntime-node session
 * (intraOpNumThreads from workerData) running prebuilt feeds of real data, or
 * (predict mode) real feature dicts through the feature spec's transform and then
 * the session, in a tight loop for a fixed time.
 *
 * Protocol: worker -> {type:'ready'}; parent -> 'go'; worker -> {type:'done', ...}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { loadFeatureSpec, transform, validateRow, type FeatureSpec } from '../../src/features';

/** One input tensor of a prebuilt feed (structured-clonable). */
export interface FeedTensor {
  name: string;
  type: 'float32' | 'int64';
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface PredictJob {
  /** feature_spec.json of the model version. */
  specPath: string;
  /** The model input the transformed rows go to. */
  input: string;
  /** Batches of real feature dicts, rotated through (one run = one batch). */
  batches: Record<string, unknown>[][];
}

export interface CeilingWorkerData {
  modelPath: string;
  intraOpNumThreads: number;
  durationMs: number;
  /** Rows per run (the batch). */
  rows: number;
  /** Prebuilt feeds of real data, one per distinct batch, rotated through. */
  feeds?: FeedTensor[][];
  /** Or: validateRow + transform of real feature dicts, then the session. */
  predict?: PredictJob;
  /** Record every run's latency (microseconds). */
  recordLatency: boolean;
}

export interface CeilingWorkerDone {
  type: 'done';
  runs: number;
  rows: number;
  elapsedMs: number;
  latenciesUs: number[];
}

export function toOrtFeeds(feed: FeedTensor[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const t of feed) out[t.name] = t.type === 'int64' ? new ort.Tensor('int64', t.data as BigInt64Array, t.dims) : new ort.Tensor('float32', t.data as Float32Array, t.dims);
  return out;
}

/** What the server does per /predict request before the model: check the dict, transform it (batch: rows stacked). */
export function transformDicts(spec: FeatureSpec, dicts: Record<string, unknown>[]): { data: Float32Array; rows: number; width: number } {
  const cols: Record<string, (string | number)[]> = {};
  for (const f of spec.inputs) cols[f.name] = [];
  for (const d of dicts) {
    const one = validateRow(spec, d);
    for (const f of spec.inputs) cols[f.name].push(one[f.name][0]);
  }
  const t = transform(spec, cols);
  return { data: t.data, rows: t.rows, width: t.width };
}

async function main(): Promise<void> {
  const d = workerData as CeilingWorkerData;
  const port = parentPort;
  if (!port) throw new Error('ceiling-worker must run as a worker thread');
  const session = await ort.InferenceSession.create(d.modelPath, {
    intraOpNumThreads: d.intraOpNumThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  let one: (i: number) => Promise<unknown>;
  let distinct: number;
  if (d.predict) {
    const p = d.predict;
    const spec = loadFeatureSpec(p.specPath);
    distinct = p.batches.length;
    one = (i) => {
      const t = transformDicts(spec, p.batches[i % distinct]);
      return session.run({ [p.input]: new ort.Tensor('float32', t.data, [t.rows, t.width]) });
    };
  } else if (d.feeds && d.feeds.length) {
    const feeds = d.feeds.map(toOrtFeeds);
    distinct = feeds.length;
    one = (i) => session.run(feeds[i % distinct]);
  } else {
    throw new Error('ceiling worker: neither feeds nor predict given');
  }
  // warm-up: a few runs over every distinct batch
  for (let i = 0; i < Math.max(5, distinct); i++) await one(i);
  await new Promise<void>((resolve) => {
    port.once('message', () => resolve());
    port.postMessage({ type: 'ready' });
  });
  const lat: number[] = [];
  const t0 = performance.now();
  const end = t0 + d.durationMs;
  let runs = 0;
  let now = t0;
  while (now < end) {
    const s = now;
    await one(runs);
    now = performance.now();
    if (d.recordLatency) lat.push(Math.round((now - s) * 1000));
    runs++;
  }
  const done: CeilingWorkerDone = { type: 'done', runs, rows: runs * d.rows, elapsedMs: now - t0, latenciesUs: lat };
  // release before answering: a worker terminated while onnxruntime releases its session
  // aborts the whole process ("terminate called after throwing an instance of 'Napi::Error'")
  await session.release();
  port.postMessage(done);
}

if (parentPort) {
  main().catch((e: unknown) => {
    parentPort?.postMessage({ type: 'error', message: (e as Error).stack ?? String(e) });
  });
}
