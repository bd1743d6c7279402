import Ajv, { ErrorObject } from 'ajv';
import { DataType } from '../protocol/datatypes';
import { InferaError } from '../errors';

/** A tensor declared in model.json. `shape` is the full ONNX shape, -1 for variable dims. */
export interface TensorConfig {
  name: string;
  datatype: DataType;
  shape: number[];
  /**
   * The axis along which requests are concatenated into a batch (default 0).
   * null: the tensor is not batched; requests batched together must carry equal values
   * (e.g. the sample rate of a VAD model).
   */
  batch_axis?: number | null;
}

export interface BatchingConfig {
  max_queue_delay_ms: number;
  preferred_batch_sizes: number[];
  max_queue_size: number;
  /** Default per-request timeout; a request may only shorten it. */
  timeout_ms: number;
  /** static: Triton's dynamic batcher; adaptive: latency objective + learned batch cost. */
  policy: 'static' | 'adaptive';
  /** adaptive: every request should complete within this many ms of its arrival. */
  latency_slo_ms?: number;
  /** Triton's priority levels: 0 disables priorities; 1 is the highest level. */
  priority_levels: number;
  /** Level of requests with no (or an out-of-range) priority; 0 = the lowest level. */
  default_priority_level: number;
}

/** A state tensor carried between the requests of a sequence: fed as `input`, read back from `output`. */
export interface SequenceStateConfig {
  input: string;
  output: string;
}

/** Sequence batching for stateful models (Triton's sequence batcher, "oldest" strategy, implicit state). */
export interface SequenceConfig {
  state: SequenceStateConfig[];
  /** A sequence with no request for this long is released (its state dropped). */
  idle_timeout_ms: number;
  /** Live sequences at most; a new one beyond is refused with 503. */
  max_sequences: number;
  /** How long the oldest waiting chunk may wait for other sequences' chunks to join its batch. */
  max_queue_delay_ms: number;
}

export type VersionPolicy = { latest: number } | { specific: number[] } | { all: true };

/** How POST /predict turns a feature dict into the model's input tensors. */
export interface PredictConfig {
  /** Input tensor filled with the features, in order, as one row. */
  input: string;
  features: { name: string; length?: number }[];
  /** Constant values for the model's other inputs (scalars broadcast over the declared shape). */
  fill?: Record<string, number>;
  output: string;
  task: 'binary' | 'multiclass' | 'regression';
  threshold?: number;
  labels?: string[];
  /** A numeric feature outside its training range (card.json profile): flag (default), reject or ignore. */
  out_of_range: 'flag' | 'reject' | 'ignore';
}

/** Where a batch runs: see src/runtime/execution-site.ts. */
export type ExecutionMode = 'auto' | 'inline' | 'pool';

export interface InstanceConfig {
  intra_op_threads: number;
  /** `auto` (default): inline on the event loop when the batch's predicted compute is small, else in the worker pool. */
  execution: ExecutionMode;
  /** `auto` runs a batch inline when its predicted compute is at most this (ms); default by core count (execution-site.ts). */
  inline_max_ms?: number;
  /** A pooled batch running longer is abandoned and its requests get 504 (the worker finishes it). */
  execution_timeout_ms?: number;
}

export interface ModelConfig {
  name: string;
  backend: 'onnxruntime' | 'native';
  /** Native backend only: fp32, or int8 kernels (default: the file's infera.precision, else fp32). */
  precision?: 'fp32' | 'int8';
  max_batch_size: number;
  inputs: TensorConfig[];
  outputs: TensorConfig[];
  batching: BatchingConfig;
  version_policy: VersionPolicy;
  instance: InstanceConfig;
  predict?: PredictConfig;
  /** The fitted feature spec /predict executes (a file in each version folder, e.g. feature_spec.json). */
  feature_spec?: string;
  sequence?: SequenceConfig;
  description?: string;
}

const tensorSchema = {
  type: 'object',
  required: ['name', 'datatype', 'shape'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    datatype: { enum: ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] },
    shape: { type: 'array', items: { type: 'integer', minimum: -1 } },
    batch_axis: { type: ['integer', 'null'], minimum: 0 },
  },
};

export const modelConfigSchema = {
  type: 'object',
  required: ['backend', 'inputs', 'outputs'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    backend: { enum: ['onnxruntime', 'native'] },
    precision: { enum: ['fp32', 'int8'] },
    max_batch_size: { type: 'integer', minimum: 0, default: 0 },
    inputs: { type: 'array', minItems: 1, items: tensorSchema },
    outputs: { type: 'array', minItems: 1, items: tensorSchema },
    batching: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_queue_delay_ms: { type: 'number', minimum: 0, default: 0 },
        preferred_batch_sizes: { type: 'array', items: { type: 'integer', minimum: 1 }, default: [] },
        max_queue_size: { type: 'integer', minimum: 1, default: 1024 },
        timeout_ms: { type: 'number', exclusiveMinimum: 0, default: 30000 },
        policy: { enum: ['static', 'adaptive'], default: 'static' },
        latency_slo_ms: { type: 'number', exclusiveMinimum: 0 },
        priority_levels: { type: 'integer', minimum: 0, default: 0 },
        default_priority_level: { type: 'integer', minimum: 0, default: 0 },
      },
    },
    sequence: {
      type: 'object',
      required: ['state'],
      additionalProperties: false,
      properties: {
        state: {
          type: 'array', minItems: 1,
          items: {
            type: 'object', required: ['input', 'output'], additionalProperties: false,
            properties: { input: { type: 'string', minLength: 1 }, output: { type: 'string', minLength: 1 } },
          },
        },
        idle_timeout_ms: { type: 'number', exclusiveMinimum: 0, default: 60000 },
        max_sequences: { type: 'integer', minimum: 1, default: 1024 },
        max_queue_delay_ms: { type: 'number', minimum: 0, default: 0 },
      },
    },
    version_policy: {
      default: { latest: 1 },
      oneOf: [
        { type: 'object', required: ['latest'], additionalProperties: false, properties: { latest: { type: 'integer', minimum: 1 } } },
        { type: 'object', required: ['specific'], additionalProperties: false, properties: { specific: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } } } },
        { type: 'object', required: ['all'], additionalProperties: false, properties: { all: { const: true } } },
      ],
    },
    instance: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        intra_op_threads: { type: 'integer', minimum: 1, default: 1 },
        execution: { enum: ['auto', 'inline', 'pool'], default: 'auto' },
        inline_max_ms: { type: 'number', minimum: 0 },
        execution_timeout_ms: { type: 'number', exclusiveMinimum: 0 },
      },
    },
    feature_spec: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*\\.json$' },
    predict: {
      type: 'object',
      required: ['input', 'features', 'output', 'task'],
      additionalProperties: false,
      properties: {
        input: { type: 'string' },
        features: {
          type: 'array', minItems: 1,
          items: {
            type: 'object', required: ['name'], additionalProperties: false,
            properties: { name: { type: 'string', minLength: 1 }, length: { type: 'integer', minimum: 1 } },
          },
        },
        fill: { type: 'object', additionalProperties: { type: 'number' } },
        output: { type: 'string' },
        task: { enum: ['binary', 'multiclass', 'regression'] },
        threshold: { type: 'number', minimum: 0, maximum: 1 },
        labels: { type: 'array', items: { type: 'string' } },
        out_of_range: { enum: ['flag', 'reject', 'ignore'], default: 'flag' },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile(modelConfigSchema);

function describe(err: ErrorObject): string {
  const where = err.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : '(root)';
  if (err.keyword === 'additionalProperties') return `${where}: unknown field '${(err.params as { additionalProperty: string }).additionalProperty}'`;
  if (err.keyword === 'required') return `${where}: missing field '${(err.params as { missingProperty: string }).missingProperty}'`;
  return `${where}: ${err.message}`;
}

/**
 * Validates a parsed model.json and applies defaults (`batchingDefaults`, from the server
 * config, before the built-in ones).
 * @throws InferaError ENG_ERR_CONFIG naming the file and the field.
 */
export function parseModelConfig(raw: unknown, file: string, name: string, batchingDefaults?: Record<string, unknown>): ModelConfig {
  const doc = structuredClone(raw) as Record<string, unknown>;
  // The server config's batching defaults fill the fields this model.json leaves out.
  if (batchingDefaults && typeof doc === 'object' && doc !== null && (doc.batching === undefined || (typeof doc.batching === 'object' && doc.batching !== null))) {
    doc.batching = { ...batchingDefaults, ...(doc.batching as Record<string, unknown> | undefined) };
  }
  if (!validate(doc)) {
    const errs = (validate.errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if');
    throw new InferaError('ENG_ERR_CONFIG', `${file}: ${errs.map(describe).join('; ')}`);
  }
  const cfg = doc as unknown as ModelConfig;
  if (cfg.name !== undefined && cfg.name !== name) {
    throw new InferaError('ENG_ERR_CONFIG', `${file}: name: '${cfg.name}' does not match its folder '${name}'`);
  }
  cfg.name = name;
  if (cfg.precision !== undefined && cfg.backend !== 'native') {
    throw new InferaError('ENG_ERR_CONFIG', `${file}: precision: only the native backend takes a precision`);
  }
  checkBatchAxes(cfg, file);
  checkBatching(cfg, file);
  if (cfg.sequence) checkSequence(cfg, cfg.sequence, file);
  return cfg;
}

function checkBatching(cfg: ModelConfig, file: string): void {
  const b = cfg.batching;
  if (b.policy === 'adaptive' && b.latency_slo_ms === undefined) {
    throw new InferaError('ENG_ERR_CONFIG', `${file}: batching.latency_slo_ms: required when batching.policy is 'adaptive'`);
  }
  if (b.default_priority_level > b.priority_levels) {
    throw new InferaError('ENG_ERR_CONFIG', `${file}: batching.default_priority_level: ${b.default_priority_level} is above priority_levels ${b.priority_levels}`);
  }
  if (b.priority_levels > 0 && b.default_priority_level === 0) b.default_priority_level = b.priority_levels;
}

/** State tensors must exist on both sides, agree, and have fixed dims besides the batch axis. */
function checkSequence(cfg: ModelConfig, seq: SequenceConfig, file: string): void {
  const fail = (field: string, msg: string) => new InferaError('ENG_ERR_CONFIG', `${file}: sequence.${field}: ${msg}`);
  if (cfg.max_batch_size < 1) throw fail('state', 'sequence batching needs max_batch_size ≥ 1');
  const seen = new Set<string>();
  seq.state.forEach((st, i) => {
    const inp = cfg.inputs.find((t) => t.name === st.input);
    const out = cfg.outputs.find((t) => t.name === st.output);
    if (!inp) throw fail(`state.${i}.input`, `no input named '${st.input}'`);
    if (!out) throw fail(`state.${i}.output`, `no output named '${st.output}'`);
    if (seen.has(st.input)) throw fail(`state.${i}.input`, `'${st.input}' is listed twice`);
    seen.add(st.input);
    if (inp.datatype !== out.datatype || inp.shape.join() !== out.shape.join()) {
      throw fail(`state.${i}`, `input '${inp.name}' ${inp.datatype}[${inp.shape}] and output '${out.name}' ${out.datatype}[${out.shape}] differ`);
    }
    const axis = batchAxisOf(cfg, inp);
    if (axis === null || batchAxisOf(cfg, out) !== axis) throw fail(`state.${i}`, `'${inp.name}' and '${out.name}' must be batched on the same axis`);
    if (inp.shape.some((d, k) => k !== axis && d < 0)) throw fail(`state.${i}.input`, `'${inp.name}' needs fixed dims besides the batch axis, has [${inp.shape}]`);
  });
  if (cfg.inputs.every((t) => seen.has(t.name))) throw fail('state', 'every input is state; a request would carry nothing');
}

function checkBatchAxes(cfg: ModelConfig, file: string): void {
  const all = [...cfg.inputs.map((t, i) => ['inputs', i, t] as const), ...cfg.outputs.map((t, i) => ['outputs', i, t] as const)];
  for (const [kind, i, t] of all) {
    const axis = t.batch_axis === undefined ? 0 : t.batch_axis;
    if (cfg.max_batch_size > 0 && axis !== null) {
      if (axis >= t.shape.length || t.shape[axis] !== -1) {
        throw new InferaError('ENG_ERR_CONFIG', `${file}: ${kind}.${i}.batch_axis: axis ${axis} of '${t.name}' must be a variable (-1) dimension of shape [${t.shape}]`);
      }
    }
  }
  if (cfg.predict) {
    const p = cfg.predict;
    if (!cfg.inputs.some((t) => t.name === p.input)) throw new InferaError('ENG_ERR_CONFIG', `${file}: predict.input: no input named '${p.input}'`);
    if (!cfg.outputs.some((t) => t.name === p.output)) throw new InferaError('ENG_ERR_CONFIG', `${file}: predict.output: no output named '${p.output}'`);
    // The feature transform writes real numbers and fills are numbers: FP16 and BYTES inputs take neither as they are.
    const main = cfg.inputs.find((t) => t.name === p.input)!;
    if (main.datatype !== 'FP32' && main.datatype !== 'FP64') throw new InferaError('ENG_ERR_CONFIG', `${file}: predict.input '${p.input}' is ${main.datatype}; /predict feeds FP32 or FP64`);
    for (const t of cfg.inputs) {
      if (t.datatype === 'BYTES' || t.datatype === 'FP16') throw new InferaError('ENG_ERR_CONFIG', `${file}: predict: input '${t.name}' is ${t.datatype}; /predict fills numbers`);
    }
    if (cfg.outputs.find((t) => t.name === p.output)!.datatype === 'BYTES') throw new InferaError('ENG_ERR_CONFIG', `${file}: predict.output '${p.output}' is BYTES; /predict reads numbers`);
    for (const t of cfg.inputs) {
      if (t.name !== p.input && !(p.fill && t.name in p.fill)) {
        throw new InferaError('ENG_ERR_CONFIG', `${file}: predict.fill: input '${t.name}' needs a fill value`);
      }
    }
  }
}

/** The batch axis of a tensor, or null when it is not batched (always null without batching). */
export function batchAxisOf(cfg: ModelConfig, t: TensorConfig): number | null {
  if (cfg.max_batch_size === 0) return null;
  return t.batch_axis === undefined ? 0 : t.batch_axis;
}
