/**
 * In-process ceiling: the same ONNX model run by onnxruntime-node inside the
 * bench process (worker threads, intraOpNumThreads 1 each), no HTTP at all.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { CeilingWorkerData, CeilingWorkerDone } from './ceiling-worker';
import { percentile } from './stats';
import type { LatencyMs } from './types';

export interface CeilingRun {
  workers: number;
  batch: number;
  rowsPerSec: number;
  runsPerSec: number;
  latenciesUs: number[];
}

export interface CeilingInput {
  modelPath: string;
  chunks: Float32Array[];
  sampleRate: number;
}

function concat(chunks: Float32Array[]): Float32Array {
  const size = chunks[0].length;
  const out = new Float32Array(chunks.length * size);
  chunks.forEach((c, i) => out.set(c, i * size));
  return out;
}

/** Runs `workers` threads concurrently (synchronised start) for durationMs. */
export async function runCeiling(
  inp: CeilingInput,
  o: { workers: number; batch: number; durationMs: number; recordLatency?: boolean; intraOpNumThreads?: number },
): Promise<CeilingRun> {
  const samples = concat(inp.chunks);
  const data: CeilingWorkerData = {
    modelPath: inp.modelPath,
    batch: o.batch,
    intraOpNumThreads: o.intraOpNumThreads ?? 1,
    durationMs: o.durationMs,
    samples,
    chunkSamples: inp.chunks[0].length,
    sampleRate: inp.sampleRate,
    recordLatency: o.recordLatency ?? false,
  };
  const file = path.join(__dirname, 'ceiling-worker.js');
  const ws = Array.from({ length: o.workers }, () => new Worker(file, { workerData: data }));
  try {
    const ready = ws.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('error', reject);
          w.once('message', (m: { type: string; message?: string }) =>
            m.type === 'ready' ? resolve() : reject(new Error(`ceiling worker: ${m.message ?? m.type}`)),
          );
        }),
    );
    await Promise.all(ready);
    const done = ws.map(
      (w) =>
        new Promise<CeilingWorkerDone>((resolve, reject) => {
          w.once('error', reject);
          w.once('message', (m: CeilingWorkerDone | { type: 'error'; message: string }) =>
            m.type === 'done' ? resolve(m) : reject(new Error(`ceiling worker: ${m.message}`)),
          );
        }),
    );
    for (const w of ws) w.postMessage('go');
    const res = await Promise.all(done);
    const rowsPerSec = res.reduce((a, r) => a + r.rows / (r.elapsedMs / 1000), 0);
    const runsPerSec = res.reduce((a, r) => a + r.runs / (r.elapsedMs / 1000), 0);
    return { workers: o.workers, batch: o.batch, rowsPerSec, runsPerSec, latenciesUs: res.flatMap((r) => r.latenciesUs) };
  } finally {
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

export function latencyFromSamplesUs(us: number[]): LatencyMs {
  if (us.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const ms = (x: number) => Math.round(x) / 1000;
  return {
    p50: ms(percentile(us, 50)),
    p90: ms(percentile(us, 90)),
    p99: ms(percentile(us, 99)),
    max: ms(us.reduce((a, b) => (b > a ? b : a), 0)),
    mean: ms(us.reduce((a, b) => a + b, 0) / us.length),
  };
}

/** The model's `output` for each chunk alone (batch 1, zero state), for checking servers' answers. */
export async function referenceOutputs(inp: CeilingInput, indices: number[]): Promise<number[]> {
  const session = await ort.InferenceSession.create(inp.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out: number[] = [];
    for (const k of indices) {
      const chunk = inp.chunks[k];
      const r = await session.run({
        input: new ort.Tensor('float32', chunk, [1, chunk.length]),
        sr: new ort.Tensor('int64', BigInt64Array.from([BigInt(inp.sampleRate)]), []),
        h: new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]),
        c: new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]),
      });
      out.push((r.output.data as Float32Array)[0]);
    }
    return out;
  } finally {
    await session.release();
  }
}
