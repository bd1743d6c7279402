/**
 * In-process ceiling: the same ONNX model run by onnxruntime-node inside the
 * bench process (worker threads, intraOpNumThreads 1 each), no HTTP at all.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CeilingWorkerData, CeilingWorkerDone } from './ceiling-worker';
import { cpuSnapshot, cpuUsage } from './cpu';
import { percentile, spread } from './stats';
import type { CeilingResult, InProcessResult, LatencyMs, RunOptions, ScenarioContext } from './types';

export interface CeilingRun {
  workers: number;
  batch: number;
  rowsPerSec: number;
  runsPerSec: number;
  latenciesUs: number[];
}

/** What one worker runs: the model and its real inputs for one batch size. */
export type CeilingJob = Omit<CeilingWorkerData, 'durationMs' | 'recordLatency' | 'intraOpNumThreads'>;

/** Runs `workers` threads concurrently (synchronised start) for durationMs. */
export async function runCeiling(
  job: CeilingJob,
  o: { workers: number; durationMs: number; recordLatency?: boolean; intraOpNumThreads?: number },
): Promise<CeilingRun> {
  const data: CeilingWorkerData = { ...job, intraOpNumThreads: o.intraOpNumThreads ?? 1, durationMs: o.durationMs, recordLatency: o.recordLatency ?? false };
  const file = path.join(__dirname, 'ceiling-worker.js');
  const ws = Array.from({ length: o.workers }, () => new Worker(file, { workerData: data }));
  const exited = ws.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
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
    return { workers: o.workers, batch: job.rows, rowsPerSec, runsPerSec, latenciesUs: res.flatMap((r) => r.latenciesUs) };
  } finally {
    // let each worker end by itself (its session is released by then); terminate stragglers
    await Promise.all(
      ws.map((w, i) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => {
          timer = setTimeout(() => void w.terminate().then(() => resolve(), () => resolve()), 5000);
        });
        return Promise.race([exited[i], late]).finally(() => clearTimeout(timer));
      }),
    );
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

/** Worker counts measured by default: the server's core budget, and the whole machine. */
export function ceilingWorkers(ctx: ScenarioContext): number[] {
  return [...new Set([ctx.pinning.serverCoreCount, ctx.machine.cores])];
}

/**
 * Measures rows/s for every worker count × batch (opts.repeats each), then the batch-1
 * single-thread latency (the base of the overhead figures). Run it before pinning.
 */
export async function measureInProcess(
  jobFor: (batch: number) => CeilingJob,
  o: { model: string; what?: string; workers: number[]; batches: number[]; singleRun?: boolean },
  opts: RunOptions,
  ctx: ScenarioContext,
): Promise<InProcessResult> {
  const durationMs = opts.quick ? 750 : 3000;
  const cpu0 = cpuSnapshot();
  const ceilings: CeilingResult[] = [];
  for (const workers of o.workers) {
    for (const batch of o.batches) {
      const job = jobFor(batch);
      const vals: number[] = [];
      for (let i = 0; i < opts.repeats; i++) vals.push((await runCeiling(job, { workers, durationMs })).rowsPerSec);
      const s = spread(vals.map((v) => Math.round(v)));
      ctx.log(`  in-process: ${workers} worker(s) × batch ${batch}: ${s.median} rows/s`);
      ceilings.push({ workers, batch, intraOpNumThreads: 1, durationS: durationMs / 1000, rowsPerSec: s });
    }
  }
  let singleRun: InProcessResult['singleRun'] = null;
  if (o.singleRun !== false) {
    const single = await runCeiling(jobFor(1), { workers: 1, durationMs: opts.quick ? 1000 : 4000, recordLatency: true });
    singleRun = { batch: 1, intraOpNumThreads: 1, runs: single.latenciesUs.length, latencyMs: latencyFromSamplesUs(single.latenciesUs) };
    ctx.log(`  in-process single run (batch 1): p50 ${singleRun.latencyMs.p50} ms, p99 ${singleRun.latencyMs.p99} ms`);
  }
  const r: InProcessResult = { model: o.model, ceilings, singleRun, cpu: cpuUsage(cpu0, cpuSnapshot()) };
  if (o.what) r.what = o.what;
  return r;
}
