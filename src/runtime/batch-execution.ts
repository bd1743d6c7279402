/**
 * How one version's batches execute: assemble the requests' tensors into one batch per input,
 * choose where it runs (inline or a worker: execution-site.ts, from the learned cost), run it
 * on the backend (which consumes the inputs), scatter each output back per request. The
 * batchers decide what forms a batch; this decides nothing about that.
 */
import type { ModelConfig } from '../config/model-config';
import { InferaError } from '../errors';
import type { CostModel } from '../batching/cost-model';
import { assembleInput, scatterOutput } from '../batching/batch-assembly';
import type { ModelMetrics } from '../monitoring/metrics';
import type { Tensor } from '../protocol/datatypes';
import type { InputSpec } from '../protocol/validate';
import type { Backend } from './backend';
import { chooseSite, defaultInlineMaxMs } from './execution-site';

/** One request's part of a batch: its tensors in the order of the version's inputs. */
export interface Payload {
  tensors: Tensor[];
  rows: number;
  enqueuedAt: number;
}

/** One request's answer from a batch. */
export interface BatchResult {
  outputs: Tensor[];
  queueMs: number;
  computeMs: number;
}

export interface BatchExecutionOptions {
  name: string;
  version: number;
  /** The backend's key for this load of the version. */
  key: string;
  config: ModelConfig;
  backend: Backend;
  inputSpecs: InputSpec[];
  outputNames: string[];
  /** Each output's batch axis (null: not batched, every request gets it whole). */
  outputAxes: Map<string, number | null>;
  /** cost(rows), learned online; read to choose the site. */
  cost: CostModel;
  /** Whether this execution feeds `cost` (an adaptive policy learns it from its own batches instead). */
  learnsCost: boolean;
  /** CPUs this process may run on. */
  cores: number;
  metrics?: ModelMetrics;
  /** A worker died running a batch (quarantine counting). */
  onWorkerCrash?: (message: string) => void;
  /** Every executed batch: its rows and wall time, assembly to scatter. */
  onBatch?: (rows: number, computeMs: number) => void;
}

export class BatchExecution {
  constructor(private readonly o: BatchExecutionOptions) {}

  /**
   * The inline budget: model.json's or the default for the cores, and never more than half the
   * execution timeout (an inline run cannot be abandoned, so only batches predicted well inside
   * the timeout may run there).
   */
  private get inlineMaxMs(): number {
    const i = this.o.config.instance;
    const budget = i.inline_max_ms ?? defaultInlineMaxMs(this.o.cores);
    return i.execution_timeout_ms === undefined ? budget : Math.min(budget, i.execution_timeout_ms / 2);
  }

  /**
   * Runs one batch: concatenate, execute, slice back per request. The copies run where the
   * batch runs: an inline batch, or any batch of a process with one core, copies on the event
   * loop, since a hop to the libuv pool for the copy would cost two scheduler wake-ups and a
   * loop turn for a copy the same core then waits for (the size threshold in binding.ts
   * weighs the hop against the copy only where another core can take it). Measured:
   * bench/README.md, "Stop 26".
   */
  async run(payloads: Payload[]): Promise<BatchResult[]> {
    const { o } = this;
    const t0 = performance.now();
    const rows = payloads.map((p) => p.rows);
    const totalRows = rows.reduce((a, b) => a + b, 0);
    const site = chooseSite({ mode: o.config.instance.execution, rows: totalRows, cost: o.cost.snapshot(), cores: o.cores, inlineMaxMs: this.inlineMaxMs });
    const copyInline = site === 'inline' || o.cores <= 1;
    const inputs = await Promise.all(
      o.inputSpecs.map((spec, i) =>
        spec.batchAxis === null ? payloads[0].tensors[i] : assembleInput(payloads.map((p) => p.tensors[i]), spec.batchAxis, copyInline),
      ),
    );
    o.metrics?.executions.inc({ model: o.name, version: String(o.version), site });
    const runStarted = performance.now();
    let outputs: Tensor[];
    try {
      outputs = await o.backend.run(o.key, inputs, o.outputNames, { site, timeoutMs: o.config.instance.execution_timeout_ms });
    } catch (e) {
      if (e instanceof InferaError && e.code === 'ENG_ERR_WORKER_FAILED') o.onWorkerCrash?.(e.message);
      throw e;
    }
    if (o.learnsCost) o.cost.observeBatch(totalRows, performance.now() - runStarted);
    const perRequest = await Promise.all(outputs.map((t) => scatterOutput(t, o.outputAxes.get(t.name) ?? null, rows, copyInline)));
    const computeMs = performance.now() - t0;
    o.onBatch?.(totalRows, computeMs);
    o.metrics?.computeSeconds.observe({ model: o.name, version: String(o.version) }, computeMs / 1000);
    return payloads.map((p, i) => ({ outputs: perRequest.map((list) => list[i]), queueMs: t0 - p.enqueuedAt, computeMs }));
  }
}
