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
}

export interface ModelConfig {
  name: string;
  backend: 'onnxruntime';
  max_batch_size: number;
  inputs: TensorConfig[];
  outputs: TensorConfig[];
  batching: BatchingConfig;
  version_policy: VersionPolicy;
  instance: { intra_op_threads: number };
  predict?: PredictConfig;
  description?: string;
}

const tensorSchema = {
  type: 'object',
  required: ['name', 'datatype', 'shape'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    datatype: { enum: ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP32', 'FP64'] },
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
    backend: { enum: ['onnxruntime'] },
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
      properties: { intra_op_threads: { type: 'integer', minimum: 1, default: 1 } },
    },
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
 * Validates a parsed model.json and applies defaults.
 * @throws InferaError ENG_ERR_CONFIG naming the file and the field.
 */
export function parseModelConfig(raw: unknown, file: string, name: string): ModelConfig {
  const doc = structuredClone(raw) as Record<string, unknown>;
  if (!validate(doc)) {
    const errs = (validate.errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if');
    throw new InferaError('ENG_ERR_CONFIG', `${file}: ${errs.map(describe).join('; ')}`);
  }
  const cfg = doc as unknown as ModelConfig;
  if (cfg.name !== undefined && cfg.name !== name) {
    throw new InferaError('ENG_ERR_CONFIG', `${file}: name: '${cfg.name}' does not match its folder '${name}'`);
  }
  cfg.name = name;
  checkBatchAxes(cfg, file);
  return cfg;
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
