import { ModelConfig, batchAxisOf } from '../config/model-config';
import { InferaError } from '../errors';
import { Backend, ModelMetadata } from '../runtime/backend';
import { StaticPolicy } from '../batching/batch-policy';
import { DynamicBatcher } from '../batching/dynamic-batcher';
import { assembleInput, scatterOutput } from '../batching/batch-assembly';
import { DataType, Tensor } from '../protocol/datatypes';
import { InputSpec, validateInputs } from '../protocol/validate';
import type { ModelMetrics } from '../monitoring/metrics';

export interface InferInput {
  inputs: Tensor[];
  /** Names of the outputs to return; all when empty. */
  outputs: string[];
  timeoutMs?: number;
}

export interface InferOutput {
  outputs: Tensor[];
  queueMs: number;
  computeMs: number;
}

interface Payload {
  tensors: Tensor[];
  rows: number;
  enqueuedAt: number;
}

interface BatchResult {
  outputs: Tensor[];
  queueMs: number;
  computeMs: number;
}

/** Per-version execution statistics, in the shape of the OIP statistics extension. */
export interface VersionStats {
  successCount: number;
  successNs: number;
  failCount: number;
  failNs: number;
  queueNs: number;
  computeNs: number;
  executionCount: number;
  inferenceCount: number;
  lastInference: number;
  batches: Map<number, { count: number; ns: number }>;
}

/**
 * A loaded, servable model version: its resolved input specs, its batcher and
 * the backend key it runs under.
 */
export class ModelVersion {
  readonly inputSpecs: InputSpec[];
  readonly inputTypes: ReadonlyMap<string, DataType>;
  readonly outputNames: string[];
  private readonly outputAxes: Map<string, number | null>;
  private readonly batcher: DynamicBatcher<Payload, BatchResult>;
  readonly stats: VersionStats = {
    successCount: 0, successNs: 0, failCount: 0, failNs: 0, queueNs: 0, computeNs: 0,
    executionCount: 0, inferenceCount: 0, lastInference: 0, batches: new Map(),
  };

  constructor(
    readonly name: string,
    readonly version: number,
    readonly config: ModelConfig,
    readonly metadata: ModelMetadata,
    private readonly backend: Backend,
    maxInFlight: number,
    private readonly metrics: ModelMetrics | undefined,
    /** The backend's key for this load of the version (unique per reload). */
    readonly key: string,
  ) {
    this.inputSpecs = config.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, batchAxis: batchAxisOf(config, t) }));
    this.inputTypes = new Map(this.inputSpecs.map((s) => [s.name, s.datatype]));
    this.outputNames = config.outputs.map((t) => t.name);
    this.outputAxes = new Map(config.outputs.map((t) => [t.name, batchAxisOf(config, t)]));
    const labels = { model: name, version: String(version) };
    this.batcher = new DynamicBatcher<Payload, BatchResult>({
      policy: new StaticPolicy({
        maxBatchSize: config.max_batch_size,
        maxQueueDelayMs: config.batching.max_queue_delay_ms,
        preferredBatchSizes: config.batching.preferred_batch_sizes,
      }),
      maxQueueSize: config.batching.max_queue_size,
      maxInFlight,
      execute: (payloads) => this.execute(payloads),
      hooks: {
        onBatch: (rows) => metrics?.batchSize.observe(labels, rows),
        onReject: (reason) => metrics?.rejected.inc({ ...labels, reason }),
      },
    });
  }

  get pending(): number {
    return this.batcher.pending + this.batcher.running;
  }

  /** Test switch: hold the batcher until n requests are queued. */
  holdUntil(n: number): void {
    this.batcher.holdUntil(n);
  }

  async infer(req: InferInput): Promise<InferOutput> {
    for (const o of req.outputs) {
      if (!this.outputNames.includes(o)) {
        throw new InferaError('ENG_ERR_BAD_REQUEST', `unknown output '${o}'; model '${this.name}' has ${this.outputNames.map((n) => `'${n}'`).join(', ')}`);
      }
    }
    const v = validateInputs(req.inputs, this.inputSpecs, this.config.max_batch_size);
    let timeoutMs = this.config.batching.timeout_ms;
    if (req.timeoutMs !== undefined) timeoutMs = Math.min(timeoutMs, req.timeoutMs);
    const started = performance.now();
    try {
      const r = await this.batcher.submit({ tensors: v.tensors, rows: v.rows, enqueuedAt: started }, { rows: v.rows, key: v.batchKey }, timeoutMs);
      const wanted = req.outputs.length > 0 ? req.outputs : this.outputNames;
      const outputs = wanted.map((n) => r.outputs.find((t) => t.name === n)!);
      this.stats.successCount += 1;
      this.stats.successNs += (performance.now() - started) * 1e6;
      this.stats.queueNs += r.queueMs * 1e6;
      this.stats.computeNs += r.computeMs * 1e6;
      this.stats.inferenceCount += v.rows;
      this.stats.lastInference = Date.now();
      return { outputs, queueMs: r.queueMs, computeMs: r.computeMs };
    } catch (e) {
      this.stats.failCount += 1;
      this.stats.failNs += (performance.now() - started) * 1e6;
      throw e;
    }
  }

  /** Runs one batch: concatenate, execute, slice back per request. */
  private async execute(payloads: Payload[]): Promise<BatchResult[]> {
    const t0 = performance.now();
    const inputs = await Promise.all(
      this.inputSpecs.map((spec, i) =>
        spec.batchAxis === null ? payloads[0].tensors[i] : assembleInput(payloads.map((p) => p.tensors[i]), spec.batchAxis),
      ),
    );
    const outputs = await this.backend.run(this.key, inputs, this.outputNames);
    const rows = payloads.map((p) => p.rows);
    const perRequest = await Promise.all(outputs.map((o) => scatterOutput(o, this.outputAxes.get(o.name) ?? null, rows)));
    const computeMs = performance.now() - t0;
    const totalRows = rows.reduce((a, b) => a + b, 0);
    this.stats.executionCount += 1;
    const b = this.stats.batches.get(totalRows) ?? { count: 0, ns: 0 };
    b.count += 1;
    b.ns += computeMs * 1e6;
    this.stats.batches.set(totalRows, b);
    this.metrics?.computeSeconds.observe({ model: this.name, version: String(this.version) }, computeMs / 1000);
    return payloads.map((p, i) => ({ outputs: perRequest.map((list) => list[i]), queueMs: t0 - p.enqueuedAt, computeMs }));
  }

  async drain(): Promise<void> {
    await this.batcher.drained();
  }

  async close(): Promise<void> {
    this.batcher.close();
    await this.batcher.drained();
    await this.backend.unload(this.key);
  }
}
