/**
 * Best-effort model runs off the serving path: one Piscina worker thread at idle CPU priority
 * (background-worker.ts) with its own copies of the versions it runs. Shadow traffic runs
 * here (src/rollout/shadow-queue.ts): stable's requests never wait for a candidate's compute,
 * on any number of cores — on a busy core the candidate gets only the time serving leaves.
 *
 * Measured reason (bench/README.md, "Stop 28: shadow at idle priority"): on one core, at 50 %
 * of capacity with every request mirrored, the candidate's batches on the event loop (started
 * only when no request was in flight) raised stable's p99 2.7–2.9×; here 1.1× (61 % of the
 * mirrored requests run, the rest dropped). At normal priority the same thread took half the
 * core whenever both wanted it: stable's p99 rose to 20–388 ms.
 */
import path from 'node:path';
import { Piscina } from 'piscina';
import type { ModelConfig } from '../config/model-config';
import type { Tensor } from '../protocol/datatypes';
import type { BackgroundModel, BackgroundTask } from './background-worker';
import type { PlainTensor } from './ort-session';
import { wholeBuffers } from './worker-transfer';

/** What the runner needs of a served version. */
export interface BackgroundVersion {
  key: string;
  config: ModelConfig;
  modelPath?: string;
  featureSpecPath?: string;
}

export interface RunAnswer {
  outputs?: Tensor[];
  error?: string;
}

export class BackgroundRunner {
  private pool: Piscina | null = null;

  /** `onStart` learns the thread's priority once it runs (idle, or why not). */
  constructor(private readonly opts: { onStart?: (priority: { ok: boolean; reason?: string }) => void } = {}) {}

  private get workers(): Piscina {
    // Started on first use: a server that shadows nothing has no extra thread.
    if (!this.pool) {
      this.pool = new Piscina({
        filename: path.resolve(__dirname, 'background-worker.js'),
        minThreads: 1,
        maxThreads: 1,
        concurrentTasksPerWorker: 1,
        idleTimeout: Infinity,
      });
      if (this.opts.onStart) this.priority().then(this.opts.onStart, () => undefined);
    }
    return this.pool;
  }

  /** Whether the worker thread runs at idle priority (SCHED_IDLE), or why not. */
  priority(): Promise<{ ok: boolean; reason?: string }> {
    return this.workers.run({ op: 'priority' } satisfies BackgroundTask);
  }

  /** Runs each request's inputs (consumed: their buffers may move to the worker); one answer per request. */
  async run(v: BackgroundVersion, requests: Tensor[][], outputs: string[]): Promise<RunAnswer[]> {
    const task: BackgroundTask = { op: 'run', model: modelOf(v), requests: requests as PlainTensor[][], outputs };
    return (await this.workers.run(task, { transferList: wholeBuffers(requests.flat()) })) as RunAnswer[];
  }

  /** /predict rows through the version's feature transform and model: the output tensor of each run of at most maxBatchRows rows. */
  async predict(v: BackgroundVersion, rows: Record<string, unknown>[], output: string, maxBatchRows: number): Promise<Tensor[]> {
    const task: BackgroundTask = { op: 'predict', model: modelOf(v), rows, output, maxBatchRows };
    return (await this.workers.run(task)) as Tensor[];
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    await p?.destroy();
  }
}

function modelOf(v: BackgroundVersion): BackgroundModel {
  if (!v.modelPath) throw new Error(`version ${v.key} has no model file to open in the background`);
  return {
    key: v.key,
    backend: v.config.backend === 'native' ? 'native' : 'onnxruntime',
    modelPath: v.modelPath,
    precision: v.config.precision,
    config: v.config,
    featureSpecPath: v.featureSpecPath,
  };
}
