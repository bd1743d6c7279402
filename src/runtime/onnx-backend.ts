import path from 'node:path';
import { InferaError } from '../errors';
import { Piscina } from 'piscina';
import { Tensor } from '../protocol/datatypes';
import { Backend, LoadOptions, MODEL_RUN_FAILED, ModelMetadata, RunOptions, modelRejected } from './backend';
import type { WireTensor, WorkerResult, WorkerTask } from './onnx-worker';
import { OrtSession } from './ort-session';

export interface OnnxBackendOptions {
  /** Worker threads, each with its own sessions (2 on a 2-core machine). */
  workers: number;
}

interface Loaded {
  path: string;
  intraOpThreads: number;
  /** The event loop's own session, for batches run inline. */
  inline: OrtSession;
}

/**
 * onnxruntime-node in two places: a session on the event loop for batches run inline, and a
 * Piscina pool where each worker lazily creates its own session per model version; unloads
 * reach workers through an epoch carried by every task.
 */
export class OnnxBackend implements Backend {
  readonly name = 'onnxruntime';
  private readonly pool: Piscina;
  private readonly loaded = new Map<string, Loaded>();
  private epoch = 0;
  private live: string[] = [];
  readonly workers: number;

  constructor(opts: OnnxBackendOptions) {
    this.workers = opts.workers;
    this.pool = new Piscina({
      filename: path.resolve(__dirname, 'onnx-worker.js'),
      minThreads: opts.workers,
      maxThreads: opts.workers,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
    });
  }

  private bumpEpoch(): void {
    this.epoch += 1;
    this.live = [...this.loaded.keys()];
  }

  async load(key: string, modelPath: string, opts: LoadOptions): Promise<ModelMetadata> {
    const task = { op: 'load' as const, key, path: modelPath, intraOpThreads: opts.intraOpThreads, epoch: this.epoch, live: [...this.live, key] };
    // One load per worker, submitted together (every idle worker takes one) and before this
    // thread's own load, which blocks it: the workers load meanwhile.
    const loads = Promise.all(Array.from({ length: this.workers }, () => this.submit(task) as Promise<ModelMetadata>));
    let inline: OrtSession;
    try {
      inline = OrtSession.create(modelPath, opts.intraOpThreads);
    } catch (e) {
      await loads.catch(() => undefined);
      throw e;
    }
    let results: ModelMetadata[];
    try {
      results = await loads;
    } catch (e) {
      inline.release();
      throw e;
    }
    this.loaded.set(key, { path: modelPath, intraOpThreads: opts.intraOpThreads, inline });
    this.bumpEpoch();
    return results[0];
  }

  async run(key: string, inputs: Tensor[], outputNames: string[], opts: RunOptions = {}): Promise<Tensor[]> {
    const m = this.loaded.get(key);
    if (!m) throw new Error(`model '${key}' is not loaded`);
    try {
      if (opts.site === 'inline') return m.inline.run(inputs, outputNames);
      return await this.runPooled(key, m, inputs, outputNames, opts.timeoutMs);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (message.startsWith(MODEL_RUN_FAILED)) throw modelRejected(inputs, e);
      // The worker died with the batch (its inputs were moved to it, so it cannot be retried);
      // Piscina has already started a replacement, which opens its sessions on first use.
      if (message.startsWith('worker exited')) {
        this.workerFailures += 1;
        throw new InferaError('ENG_ERR_WORKER_FAILED', `${message}; the pool has started a replacement`, { retryAfterS: 1, cause: e });
      }
      throw e;
    }
  }

  private async runPooled(key: string, m: Loaded, inputs: Tensor[], outputNames: string[], timeoutMs: number | undefined): Promise<Tensor[]> {
    const wire: WireTensor[] = inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.data }));
    const task: WorkerTask = { op: 'run', key, path: m.path, intraOpThreads: m.intraOpThreads, epoch: this.epoch, live: this.live, inputs: wire, outputs: outputNames };
    if (this.exitNext) {
      this.exitNext = false;
      task.exitWorker = true;
    }
    // Batches are fresh buffers owned by this call: move them instead of copying.
    const running = this.submit(task, uniqueBuffers(inputs)) as Promise<WorkerResult>;
    const r = await (timeoutMs === undefined ? running : abandonAfter(running, timeoutMs));
    this.perWorker.set(r.worker, (this.perWorker.get(r.worker) ?? 0) + 1);
    return r.tensors;
  }

  private readonly perWorker = new Map<number, number>();

  /** Pooled batches run so far, by worker thread id (the pool's use of the cores). */
  batchesByWorker(): ReadonlyMap<number, number> {
    return this.perWorker;
  }

  /** Workers that died mid-batch since start. */
  workerFailures = 0;
  private exitNext = false;

  /** Test switch: the worker that takes the next pooled batch exits before running it. */
  exitWorkerOnNextRun(): void {
    this.exitNext = true;
  }

  async unload(key: string): Promise<void> {
    const m = this.loaded.get(key);
    if (!m) return;
    this.loaded.delete(key);
    this.bumpEpoch();
    m.inline.release();
  }

  /** Pool tasks not settled yet, abandoned ones (execution timeout) included. */
  private readonly inFlight = new Set<Promise<unknown>>();

  private submit(task: unknown, transferList?: ArrayBuffer[]): Promise<unknown> {
    const p = this.pool.run(task, transferList ? { transferList } : {}) as Promise<unknown>;
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Destroys the pool once the tasks in flight have settled (at most CLOSE_WAIT_MS): terminating
   * a worker while onnxruntime runs in it aborts the whole process ("terminate called after
   * throwing an instance of 'Napi::Error'", seen when a server stopped right after abandoning a
   * batch past its execution timeout).
   */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    await this.pool.destroy();
  }
}

/** Buffers that can be transferred: whole, non-shared ArrayBuffers, each once. */
function uniqueBuffers(inputs: Tensor[]): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of inputs) {
    if (Array.isArray(t.data)) continue; // strings are cloned
    const b = t.data.buffer;
    if (b instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === b.byteLength) seen.add(b);
  }
  return [...seen];
}

/**
 * Answers a pooled batch's requests with ENG_ERR_EXECUTION_TIMEOUT once `ms` pass; the worker
 * finishes the abandoned batch (its result is dropped) and returns to the pool.
 * Measured reason it is not terminated instead: terminating a worker thread while
 * onnxruntime-node runs in it aborts the whole process ("terminate called after throwing an
 * instance of 'Napi::Error'" from onnxruntime's binding; test/integration/reliability.test.ts
 * reproduced it with Piscina's AbortSignal). Replacing the worker needs process workers.
 */
/** Longest wait in close() for the batches still running in the workers. */
export const CLOSE_WAIT_MS = 30_000;

function abandonAfter<T>(running: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InferaError('ENG_ERR_EXECUTION_TIMEOUT', `the batch ran longer than instance.execution_timeout_ms = ${ms} ms; abandoned (its worker finishes it, the result is dropped)`)), ms);
  });
  running.catch(() => undefined);
  return Promise.race([running, expired]).finally(() => clearTimeout(timer));
}
