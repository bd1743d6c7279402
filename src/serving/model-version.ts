import { ModelConfig, batchAxisOf } from '../config/model-config';
import { InferaError } from '../errors';
import { Backend, ModelMetadata } from '../runtime/backend';
import { BatchExecution, type BatchResult, type Payload } from '../runtime/batch-execution';
import { BatchPolicy, StaticPolicy } from '../batching/batch-policy';
import { AdaptivePolicy } from '../batching/adaptive-policy';
import { CostModel } from '../batching/cost-model';
import { loopLoad } from '../batching/loop-load';
import { DynamicBatcher } from '../batching/dynamic-batcher';
import { SequenceBatcher, SequenceItem } from '../batching/sequence-batcher';
import { DataType, Tensor, allocData, elementCount } from '../protocol/datatypes';
import { InputSpec, validateInputs } from '../protocol/validate';
import { SequenceParams, sequenceKey } from '../protocol/schedule-params';
import type { ModelMetrics } from '../monitoring/metrics';
import type { FeatureSpec } from '../features';
import type { FeatureRanges } from '../protocol/feature-ranges';

export interface InferInput {
  inputs: Tensor[];
  /** Names of the outputs to return; all when empty (all but the state outputs for sequences). */
  outputs: string[];
  timeoutMs?: number;
  /** Triton's request priority: 1 is the highest level, 0 (or out of range) the default level. */
  priority?: number;
  /** A request of a sequence: the server holds the state inputs. */
  sequence?: SequenceParams;
}

/**
 * A version whose inference workers die this often is quarantined rather than left to crash a
 * respawned worker with every batch (a model that aborts onnxruntime on some inputs).
 */
export const QUARANTINE_CRASHES = 3;
export const QUARANTINE_WINDOW_MS = 60_000;
/** A chunk of a sequence as an in-process owner (a stream) sends it. */
export interface SequenceChunk {
  /** The state's key; owners use their own namespace (HTTP ids are 'n:…'/'s:…'). */
  key: string;
  label: string;
  start: boolean;
  end: boolean;
  owned?: boolean;
}

export interface InferOutput {
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

interface StateSlot {
  input: string;
  output: string;
  axis: number;
  /** Shape of one sequence's state (batch axis = 1). */
  shape: number[];
  datatype: DataType;
}

function policyFor(config: ModelConfig, maxQueueDelayMs: number, cost: CostModel): BatchPolicy {
  const b = config.batching;
  if (b.policy === 'adaptive') return new AdaptivePolicy({ maxBatchSize: config.max_batch_size, latencySloMs: b.latency_slo_ms!, loopBusy: () => loopLoad.busy() }, cost);
  return new StaticPolicy({ maxBatchSize: config.max_batch_size, maxQueueDelayMs, preferredBatchSizes: b.preferred_batch_sizes });
}

/**
 * A loaded, servable model version, the front door of its requests: inputs validated once
 * against its specs, priorities mapped, sequence state held, and its batchers (dynamic for
 * stateless requests; sequence, when model.json declares `sequence`, for requests with a
 * sequence_id) feeding its BatchExecution (src/runtime/batch-execution.ts). The repository
 * creates and retires versions (src/repository/model-repository.ts); requests flow
 * server → routing → here (batching) → runtime → backend.
 */
export class ModelVersion {
  readonly inputSpecs: InputSpec[];
  readonly inputTypes: ReadonlyMap<string, DataType>;
  readonly outputNames: string[];
  /** The fitted feature spec /predict executes, when model.json names one. */
  featureSpec?: FeatureSpec;
  /** Training ranges of the numeric /predict inputs (card.json), checked per predict.out_of_range. */
  featureRanges?: FeatureRanges;
  /** What this version answers /predict with (model bytes, predict section, feature spec): repository/version-digest.ts. */
  digest?: string;
  /** The files it was loaded from, for a second copy off the serving path (runtime/background-runner.ts). */
  modelPath?: string;
  featureSpecPath?: string;
  private readonly execution: BatchExecution;
  private readonly batcher: DynamicBatcher<Payload, BatchResult>;
  private readonly sequencer?: SequenceBatcher<Payload, BatchResult, Tensor[]>;
  private readonly stateSlots: StateSlot[] = [];
  /** cost(rows) of a batch of this version, learned online; decides where batches run. */
  readonly cost = new CostModel();
  /** The inputs a sequence request carries (all but the state). */
  private readonly sequenceSpecs: InputSpec[] = [];
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
    metrics: ModelMetrics | undefined,
    /** The backend's key for this load of the version (unique per reload). */
    readonly key: string,
    /** CPUs this process may run on: where batches run (execution-site.ts). */
    cores = 1,
  ) {
    this.inputSpecs = config.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, batchAxis: batchAxisOf(config, t) }));
    this.inputTypes = new Map(this.inputSpecs.map((s) => [s.name, s.datatype]));
    this.outputNames = config.outputs.map((t) => t.name);
    this.execution = new BatchExecution({
      name, version, key, config, backend, cores, metrics, cost: this.cost,
      // An adaptive policy learns this model from every batch's wall time; otherwise the execution feeds it.
      learnsCost: config.batching.policy !== 'adaptive',
      inputSpecs: this.inputSpecs,
      outputNames: this.outputNames,
      outputAxes: new Map(config.outputs.map((t) => [t.name, batchAxisOf(config, t)])),
      onWorkerCrash: (message) => this.noteCrash(message),
      onBatch: (rows, computeMs) => {
        this.stats.executionCount += 1;
        const b = this.stats.batches.get(rows) ?? { count: 0, ns: 0 };
        b.count += 1;
        b.ns += computeMs * 1e6;
        this.stats.batches.set(rows, b);
      },
    });
    const labels = { model: name, version: String(version) };
    const hooks = {
      onBatch: (rows: number) => metrics?.batchSize.observe(labels, rows),
      onReject: (reason: string) => metrics?.rejected.inc({ ...labels, reason }),
    };
    this.batcher = new DynamicBatcher<Payload, BatchResult>({
      policy: policyFor(config, config.batching.max_queue_delay_ms, this.cost),
      maxQueueSize: config.batching.max_queue_size,
      maxInFlight,
      execute: (payloads) => this.execution.run(payloads),
      hooks,
    });
    const seq = config.sequence;
    if (seq) {
      for (const st of seq.state) {
        const spec = this.inputSpecs.find((s) => s.name === st.input)!;
        const axis = spec.batchAxis!;
        this.stateSlots.push({ input: st.input, output: st.output, axis, datatype: spec.datatype, shape: spec.shape.map((d, k) => (k === axis ? 1 : d)) });
      }
      this.sequenceSpecs = this.inputSpecs.filter((s) => !seq.state.some((st) => st.input === s.name));
      this.sequencer = new SequenceBatcher<Payload, BatchResult, Tensor[]>({
        model: name,
        policy: policyFor(config, seq.max_queue_delay_ms, this.cost),
        maxQueueSize: config.batching.max_queue_size,
        maxSequences: seq.max_sequences,
        idleTimeoutMs: seq.idle_timeout_ms,
        maxInFlight,
        execute: (items) => this.executeSequence(items),
        hooks: { ...hooks, onSequences: (n) => metrics?.sequences.set(labels, n) },
      });
    }
  }

  get pending(): number {
    return this.batcher.pending + this.batcher.running + (this.sequencer ? this.sequencer.pending + this.sequencer.running : 0);
  }

  /** Sequences holding state (0 for a model without `sequence`). */
  get sequenceCount(): number {
    return this.sequencer?.sequences ?? 0;
  }

  get stateful(): boolean {
    return this.sequencer !== undefined;
  }

  /** What a sequence request carries: every input but the state. */
  get sequenceInputs(): readonly InputSpec[] {
    return this.sequenceSpecs;
  }

  /** The outputs that are not state. */
  get sequenceOutputs(): string[] {
    return this.outputNames.filter((n) => !this.stateSlots.some((s) => s.output === n));
  }

  /** Test switch: hold the batchers until n requests (or sequence chunks) are queued. */
  holdUntil(n: number): void {
    this.batcher.holdUntil(n);
    this.sequencer?.holdUntil(n);
  }

  /**
   * Set once the version's workers crashed QUARANTINE_CRASHES times within QUARANTINE_WINDOW_MS:
   * the reason; the version then refuses requests (503) until it is loaded again.
   */
  quarantined: string | null = null;
  private crashes: number[] = [];

  private noteCrash(message: string): void {
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < QUARANTINE_WINDOW_MS), now];
    if (this.crashes.length >= QUARANTINE_CRASHES && !this.quarantined) {
      this.quarantined = `quarantined after ${this.crashes.length} worker crashes within ${QUARANTINE_WINDOW_MS / 1000} s (last: ${message.slice(0, 200)}); POST /v2/repository/models/${this.name}/load serves it again`;
    }
  }

  async infer(req: InferInput): Promise<InferOutput> {
    if (this.quarantined) throw new InferaError('ENG_ERR_MODEL_UNAVAILABLE', `model '${this.name}' version ${this.version} is ${this.quarantined}`);
    if (req.sequence) {
      const id = req.sequence.id;
      if (id === 0 || id === '') {
        throw new InferaError('ENG_ERR_BAD_REQUEST', `inference request to model '${this.name}' must specify a non-zero or non-empty correlation ID`);
      }
      return this.inferSequence({ key: sequenceKey(id), label: String(id), start: req.sequence.start, end: req.sequence.end }, req);
    }
    this.checkOutputs(req.outputs);
    const v = validateInputs(req.inputs, this.inputSpecs, this.config.max_batch_size);
    const levels = this.config.batching.priority_levels;
    const p = req.priority;
    const priority = levels === 0 ? 1 : p === undefined || p === 0 || p > levels ? this.config.batching.default_priority_level : p;
    const started = performance.now();
    const r = this.batcher.submit({ tensors: v.tensors, rows: v.rows, enqueuedAt: started }, { rows: v.rows, key: v.batchKey, priority }, this.timeoutOf(req));
    return this.track(r, started, v.rows, req.outputs.length > 0 ? req.outputs : this.outputNames);
  }

  /**
   * One chunk (one row) of a sequence; the state inputs come from the server.
   * @throws InferaError 400 when the model is not stateful, the request carries a state
   *   input or more than one row, or an unknown sequence comes without `start`; 503 as the batcher.
   */
  async inferSequence(chunk: SequenceChunk, req: InferInput): Promise<InferOutput> {
    if (!this.sequencer) {
      throw new InferaError('ENG_ERR_BAD_REQUEST', `model '${this.name}' is not stateful (its model.json declares no 'sequence'); sequence_id is not supported`);
    }
    this.checkOutputs(req.outputs);
    for (const t of req.inputs) {
      if (this.stateSlots.some((s) => s.input === t.name)) {
        throw new InferaError('ENG_ERR_BAD_TENSOR', `input '${t.name}' is sequence state held by the server; send only ${this.sequenceSpecs.map((s) => `'${s.name}'`).join(', ')}`);
      }
    }
    const v = validateInputs(req.inputs, this.sequenceSpecs, this.config.max_batch_size);
    if (v.rows !== 1) throw new InferaError('ENG_ERR_BAD_TENSOR', `a sequence request carries one row (batch size 1), got ${v.rows}`);
    const started = performance.now();
    const flags = { start: chunk.start, end: chunk.end, owned: chunk.owned };
    const r = this.sequencer.submit(chunk.key, chunk.label, { tensors: v.tensors, rows: 1, enqueuedAt: started }, { key: v.batchKey }, flags, this.timeoutOf(req));
    const wanted = req.outputs.length > 0 ? req.outputs : this.sequenceOutputs;
    return this.track(r, started, 1, wanted);
  }

  /** A sequence gets no more chunks: released once its queued ones ran. */
  endSequence(key: string): void {
    this.sequencer?.end(key);
  }

  /** Frees a sequence's state now (its queued chunks are rejected). */
  releaseSequence(key: string): boolean {
    return this.sequencer?.release(key) ?? false;
  }

  private checkOutputs(outputs: string[]): void {
    for (const o of outputs) {
      if (!this.outputNames.includes(o)) {
        throw new InferaError('ENG_ERR_BAD_REQUEST', `unknown output '${o}'; model '${this.name}' has ${this.outputNames.map((n) => `'${n}'`).join(', ')}`);
      }
    }
  }

  private timeoutOf(req: InferInput): number {
    const t = this.config.batching.timeout_ms;
    return req.timeoutMs === undefined ? t : Math.min(t, req.timeoutMs);
  }

  /** Statistics around one request's result; picks the wanted outputs. */
  private async track(result: Promise<BatchResult>, started: number, rows: number, wanted: string[]): Promise<InferOutput> {
    try {
      const r = await result;
      const outputs = wanted.map((n) => r.outputs.find((t) => t.name === n)!);
      this.stats.successCount += 1;
      this.stats.successNs += (performance.now() - started) * 1e6;
      this.stats.queueNs += r.queueMs * 1e6;
      this.stats.computeNs += r.computeMs * 1e6;
      this.stats.inferenceCount += rows;
      this.stats.lastInference = Date.now();
      return { outputs, queueMs: r.queueMs, computeMs: r.computeMs };
    } catch (e) {
      this.stats.failCount += 1;
      this.stats.failNs += (performance.now() - started) * 1e6;
      throw e;
    }
  }

  /**
   * Runs one batch of sequence chunks: each chunk's state (or zeros when it starts) joins
   * its inputs, and the state outputs become the sequences' new state (renamed to the inputs).
   */
  private async executeSequence(items: SequenceItem<Payload, Tensor[]>[]): Promise<{ result: BatchResult; state: Tensor[] }[]> {
    const payloads = items.map(({ payload, state }): Payload => {
      const given = new Map(payload.tensors.map((t) => [t.name, t]));
      const tensors = this.inputSpecs.map((spec) => {
        const k = this.stateSlots.findIndex((s) => s.input === spec.name);
        if (k < 0) return given.get(spec.name)!;
        const slot = this.stateSlots[k];
        if (!state) return { name: slot.input, datatype: slot.datatype, shape: slot.shape, data: allocData(slot.datatype, elementCount(slot.shape)) };
        // A batch of one passes tensors to the worker as they are (transferred): keep the held state intact.
        return items.length === 1 ? { ...state[k], data: state[k].data.slice() } : state[k];
      });
      return { ...payload, tensors };
    });
    const results = await this.execution.run(payloads);
    return results.map((r) => ({
      result: r,
      state: this.stateSlots.map((slot) => ({ ...r.outputs.find((t) => t.name === slot.output)!, name: slot.input })),
    }));
  }

  async drain(): Promise<void> {
    await Promise.all([this.batcher.drained(), this.sequencer?.drained()]);
  }

  /**
   * A request that was routed to this version holds a lease until it has its answer, so a
   * version swapped out or unloaded meanwhile still serves it (Triton: in-flight requests
   * complete, new ones go elsewhere). Call the returned function once, when done.
   */
  lease(): () => void {
    this.leases += 1;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.leases -= 1;
    };
  }

  private leases = 0;

  /**
   * Retires the version: the repository has already stopped routing to it; requests that hold
   * a lease and everything queued finish first (for at most `graceMs`), then the batchers
   * refuse anything late and the backend releases the model.
   */
  async close(graceMs = this.config.batching.timeout_ms): Promise<void> {
    const deadline = performance.now() + graceMs;
    this.holdUntil(0);
    while ((this.leases > 0 || this.pending > 0) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    this.batcher.close();
    this.sequencer?.close();
    await this.drain();
    await this.backend.unload(this.key);
  }
}
