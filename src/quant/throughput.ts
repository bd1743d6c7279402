/**
 * Throughput of a model runner on real rows, for `infera quantize` (card.json speed ratios)
 * and scripts/measure-kernels.ts. Batches are consecutive slices of the given rows, rotated,
 * run one after another (closed loop, one in flight): the figure is rows per second of a
 * single caller, so every runner pays its own call overhead (AsyncWorker, session.run).
 */
import * as ort from 'onnxruntime-node';

/** Runs one batch of `rows` rows of width `width`; resolves when the outputs are ready. */
export type BatchRunner = (x: Float32Array, rows: number) => Promise<unknown>;

export interface Throughput {
  batch: number;
  /** Median over repetitions. */
  us_per_batch: number;
  rows_per_second: number;
  /** Every repetition's µs per batch (spread = noise on a shared machine). */
  samples_us: number[];
}

export interface ThroughputOptions {
  /** Repetitions (the median is reported); default 7. */
  reps?: number;
  /** Wall time per repetition; default 0.3 s. */
  repSeconds?: number;
  /** Batches run before timing; default 30. */
  warmup?: number;
}

/**
 * Measures a runner at one batch size over real rows.
 * @returns the median µs per batch and rows per second.
 * @throws Error when there are fewer than `batch` rows.
 */
export async function measureThroughput(run: BatchRunner, x: Float32Array, width: number, rows: number, batch: number, opts: ThroughputOptions = {}): Promise<Throughput> {
  const count = Math.floor(rows / batch);
  if (count < 1) throw new Error(`measureThroughput: ${rows} rows, batch ${batch}`);
  const batches = Array.from({ length: Math.min(count, 64) }, (_, i) => x.slice(i * batch * width, (i + 1) * batch * width));
  let k = 0;
  const next = () => batches[k++ % batches.length];
  for (let i = 0; i < (opts.warmup ?? 30); i++) await run(next(), batch);
  const samples: number[] = [];
  const budgetNs = BigInt(Math.round((opts.repSeconds ?? 0.3) * 1e9));
  for (let rep = 0; rep < (opts.reps ?? 7); rep++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0n;
    while (elapsed < budgetNs || n < 5) {
      await run(next(), batch);
      n++;
      elapsed = process.hrtime.bigint() - t0;
    }
    samples.push(Number(elapsed) / 1e3 / n);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const us = sorted[Math.floor(sorted.length / 2)];
  return { batch, us_per_batch: us, rows_per_second: (batch * 1e6) / us, samples_us: samples };
}

/**
 * onnxruntime-node in this process, as the onnxruntime backend configures its sessions
 * (sequential, all graph optimizations, one inter-op thread).
 * @returns a runner and a release function.
 */
export async function onnxRuntimeRunner(file: string | Uint8Array, intraOpThreads: number): Promise<{ run: (x: Float32Array, rows: number) => Promise<Float32Array>; release: () => Promise<void> }> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  };
  const session = typeof file === 'string' ? await ort.InferenceSession.create(file, options) : await ort.InferenceSession.create(file, options);
  const input = session.inputNames[0];
  const output = session.outputNames[0];
  return {
    run: async (x, rows) => {
      const r = await session.run({ [input]: new ort.Tensor('float32', x, [rows, x.length / Math.max(rows, 1)]) });
      return r[output].data as Float32Array;
    },
    release: () => session.release(),
  };
}

/** Runs every row through a runner in batches; concatenated outputs. */
export async function runAll(run: (x: Float32Array, rows: number) => Promise<Float32Array>, x: Float32Array, width: number, rows: number, batch = 1024): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let r = 0; r < rows; r += batch) {
    const n = Math.min(batch, rows - r);
    parts.push(await run(x.slice(r * width, (r + n) * width), n));
  }
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
