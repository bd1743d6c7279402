/**
 * Worker thread for the in-process ceiling: one onnxruntime-node session
 * (intraOpNumThreads from workerData), batches of real speech chunks,
 * session.run in a tight loop for a fixed time.
 *
 * Protocol: worker -> {type:'ready'}; parent -> 'go'; worker -> {type:'done', ...}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';

export interface CeilingWorkerData {
  modelPath: string;
  batch: number;
  intraOpNumThreads: number;
  durationMs: number;
  /** Real chunks, concatenated (chunkSamples each). */
  samples: Float32Array;
  chunkSamples: number;
  sampleRate: number;
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

export function buildFeeds(d: Pick<CeilingWorkerData, 'batch' | 'samples' | 'chunkSamples' | 'sampleRate'>): Record<string, ort.Tensor>[] {
  const n = Math.floor(d.samples.length / d.chunkSamples);
  const B = d.batch;
  const groups = Math.ceil(n / B);
  const feeds: Record<string, ort.Tensor>[] = [];
  for (let g = 0; g < groups; g++) {
    const input = new Float32Array(B * d.chunkSamples);
    for (let r = 0; r < B; r++) {
      const k = (g * B + r) % n;
      input.set(d.samples.subarray(k * d.chunkSamples, (k + 1) * d.chunkSamples), r * d.chunkSamples);
    }
    feeds.push({
      input: new ort.Tensor('float32', input, [B, d.chunkSamples]),
      sr: new ort.Tensor('int64', BigInt64Array.from([BigInt(d.sampleRate)]), []),
      h: new ort.Tensor('float32', new Float32Array(2 * B * 64), [2, B, 64]),
      c: new ort.Tensor('float32', new Float32Array(2 * B * 64), [2, B, 64]),
    });
  }
  return feeds;
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
  const feeds = buildFeeds(d);
  // warm-up: a few runs over every distinct batch
  for (let i = 0; i < Math.max(5, feeds.length); i++) await session.run(feeds[i % feeds.length]);
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
    await session.run(feeds[runs % feeds.length]);
    now = performance.now();
    if (d.recordLatency) lat.push(Math.round((now - s) * 1000));
    runs++;
  }
  const done: CeilingWorkerDone = { type: 'done', runs, rows: runs * d.batch, elapsedMs: now - t0, latenciesUs: lat };
  port.postMessage(done);
  await session.release();
}

if (parentPort) {
  main().catch((e: unknown) => {
    parentPort?.postMessage({ type: 'error', message: (e as Error).stack ?? String(e) });
  });
}
