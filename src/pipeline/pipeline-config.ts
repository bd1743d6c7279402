/**
 * The pipeline file (pipelines/<name>.json): source, windows, validation thresholds,
 * features, model hyper-parameters, quality gates, export and serving settings.
 * Checked by a JSON schema; errors name the file and the field.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import type { FitOptions } from '../features';
import { MS_PER_DAY, parseTimestamp } from '../features/time';
import { parseDuration, type OnlineFeatures } from '../features/online';
import type { TimeWindow } from '../data/warehouse';
import type { GbdtOptions } from '../native/gbdt';
import type { TrainOptions } from './trainer';
import type { ValidationOptions } from './validate';
import { SEARCHABLE, type SearchRange, type SearchSpace } from './search';

export type MetricName = 'auc' | 'log_loss' | 'brier' | 'ece' | 'accuracy' | 'precision' | 'recall' | 'f1';
/** Metrics where lower is better (gates and "beats the baseline" compare the other way). */
export const LOWER_IS_BETTER: ReadonlySet<MetricName> = new Set(['log_loss', 'brier', 'ece']);

export interface ModelParams extends TrainOptions {
  /** Hidden layer sizes; [] is logistic regression. */
  hidden: number[];
}

/**
 * Whole days of the training window held out of the fit: day d, counted from
 * windows.train.from (d = 0 is its first day), when d % every === offset.
 */
export interface ValidationDays {
  every: number;
  /** Default 0 (the training window's first day is a validation day). */
  offset?: number;
}

/**
 * Gradient-boosted trees instead of the MLP ("model": {"type": "gbdt", ...}). The validation
 * rows — whole days spread over the training window (`validation_days`) or one stretch of it
 * (`early_stopping_window`) — are held out of the fit; they alone pick the number of trees,
 * score the search's trials and fit the calibration. The holdout week is never used for
 * training choices.
 */
export interface GbdtParams extends GbdtOptions {
  type: 'gbdt';
  seed: number;
  early_stopping_window?: TimeWindow;
  validation_days?: ValidationDays;
  /** 'platt': σ(a·z + b) fitted on the validation rows, folded into the trees (calibration.ts). */
  calibration?: 'none' | 'platt';
  /** Random search over these parameters, scored on the validation rows only (search.ts). */
  search?: SearchSpace;
}

/** The model the pipeline trains next to the logistic baseline: the MLP (default) or GBDT. */
export type PrimaryModel = 'mlp' | 'gbdt';

export interface Gate {
  name?: string;
  metric: MetricName;
  /** Windows the gate applies to: 'all' (holdout and every evaluation window) or names. */
  windows?: 'all' | string[];
  /** The model checked by min/max (default: the pipeline's model, mlp or gbdt). */
  model?: 'mlp' | 'gbdt' | 'baseline';
  min?: number;
  max?: number;
  /** The MLP must beat the baseline by this margin on the metric in every window. */
  beats_baseline_by?: number;
}

export interface PipelineConfig {
  /** Model name in the repository (models/<name>/). */
  name: string;
  description?: string;
  /** A model measured elsewhere on the same data, copied into card.json to compare against. */
  reference?: { description: string; metrics: Record<string, Record<string, number>> };
  /** Source file, relative to the pipeline file. */
  source: { path: string };
  timestamp: string;
  /** label = column <op> value, e.g. delay > 15. names: [negative, positive]. */
  label: { column: string; op: '>' | '>=' | '<' | '<=' | '=='; value: number; names?: [string, string] };
  windows: { train: TimeWindow; holdout: TimeWindow; evaluate: (TimeWindow & { name: string })[] };
  validation?: ValidationOptions;
  features: Omit<FitOptions, 'window'>;
  /** mlp: required unless `model` is gbdt. */
  models: { mlp?: ModelParams; baseline: ModelParams };
  /** What is trained next to the baseline: {"type": "mlp"} (default, models.mlp) or GBDT. */
  model?: { type: 'mlp' } | GbdtParams;
  /** Decision threshold: maximise F1 on the holdout window, or fixed. */
  threshold?: { strategy: 'max_f1' } | { fixed: number };
  gates: Gate[];
  /** model: which trained model the version serves (default the MLP; 'baseline': the logistic baseline). */
  export?: { opset?: number; check_rows?: number; tolerance?: number; model?: 'mlp' | 'gbdt' | 'baseline' };
  /** backend: which runtime serves the model (serving-backend.ts; default auto: native when it runs the graph and agrees). */
  serving?: { max_batch_size?: number; max_queue_delay_ms?: number; backend?: 'auto' | 'native' | 'onnxruntime' };
  /**
   * Aggregates over past events of the same source (src/features/online.ts): each becomes a
   * numeric input, point-in-time correct in training and kept up to date by the server from
   * events posted to /v2/features/{source}/events.
   */
  online_features?: OnlineFeaturesConfig;
  profile?: { bins?: number; top_k?: number };
}

/** The pipeline file's form of online features: durations as text ("2h", "7d"). */
export interface OnlineFeaturesConfig {
  source: string;
  available_after: string;
  max_staleness: string;
  features: { name: string; entity: string[]; window: string; aggregate: 'count' | 'mean' | 'rate'; column?: string; op?: '>' | '>=' | '<' | '<=' | '=='; value?: number; default: number }[];
}

const duration = { type: 'string', pattern: '^\\d+(\\.\\d+)?(ms|s|m|h|d)$' };
const onlineFeatures = {
  type: 'object', required: ['source', 'available_after', 'max_staleness', 'features'], additionalProperties: false,
  properties: {
    source: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
    available_after: duration,
    max_staleness: duration,
    features: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', required: ['name', 'entity', 'window', 'aggregate', 'default'], additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
          entity: { type: 'array', minItems: 1, items: { type: 'string' } },
          window: duration,
          aggregate: { enum: ['count', 'mean', 'rate'] },
          column: { type: 'string' },
          op: { enum: ['>', '>=', '<', '<=', '=='] },
          value: { type: 'number' },
          default: { type: 'number' },
        },
      },
    },
  },
};

const date = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2})?)?$' };
/** {kind: [low, high]}: low ≤ high (checked after the schema); log ranges positive. */
const range = (kind: string, positive = false) => ({
  type: 'object', required: [kind], additionalProperties: false,
  properties: { [kind]: { type: 'array', minItems: 2, maxItems: 2, items: positive ? { type: 'number', exclusiveMinimum: 0 } : { type: kind === 'int' ? 'integer' : 'number' } } },
});
const window = { type: 'object', required: ['from', 'to'], additionalProperties: false, properties: { from: date, to: date } };
const metric = { enum: ['auc', 'log_loss', 'brier', 'ece', 'accuracy', 'precision', 'recall', 'f1'] };
const model = {
  type: 'object',
  required: ['hidden', 'epochs', 'batch_size', 'learning_rate', 'seed'],
  additionalProperties: false,
  properties: {
    hidden: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 4096 }, maxItems: 8 },
    epochs: { type: 'integer', minimum: 1, maximum: 1000 },
    batch_size: { type: 'integer', minimum: 1, maximum: 1 << 20 },
    learning_rate: { type: 'number', exclusiveMinimum: 0 },
    l2: { type: 'number', minimum: 0 },
    lr_schedule: { enum: ['constant', 'cosine'] },
    beta1: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    beta2: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    epsilon: { type: 'number', exclusiveMinimum: 0 },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
  },
};

const gbdtModel = {
  type: 'object',
  required: ['type', 'seed'],
  additionalProperties: false,
  properties: {
    type: { const: 'gbdt' },
    num_iterations: { type: 'integer', minimum: 1, maximum: 100000 },
    learning_rate: { type: 'number', exclusiveMinimum: 0 },
    max_leaves: { type: 'integer', minimum: 2, maximum: 65536 },
    max_depth: { type: 'integer', minimum: 0, maximum: 64 },
    min_data_in_leaf: { type: 'integer', minimum: 1 },
    min_sum_hessian: { type: 'number', minimum: 0 },
    lambda_l2: { type: 'number', minimum: 0 },
    max_bins: { type: 'integer', minimum: 2, maximum: 255 },
    bagging_fraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    feature_fraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
    max_cat_threshold: { type: 'integer', minimum: 1, maximum: 65535 },
    cat_smooth: { type: 'number', minimum: 0 },
    cat_l2: { type: 'number', minimum: 0 },
    min_data_per_group: { type: 'integer', minimum: 1 },
    early_stopping_rounds: { type: 'integer', minimum: 0 },
    metric: { enum: ['logloss', 'auc'] },
    early_stopping_window: window,
    validation_days: {
      type: 'object', required: ['every'], additionalProperties: false,
      properties: { every: { type: 'integer', minimum: 2, maximum: 366 }, offset: { type: 'integer', minimum: 0 } },
    },
    calibration: { enum: ['none', 'platt'] },
    search: {
      type: 'object', required: ['trials', 'seed', 'space'], additionalProperties: false,
      properties: {
        trials: { type: 'integer', minimum: 1, maximum: 1000 },
        seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
        space: {
          type: 'object', minProperties: 1, additionalProperties: false,
          properties: Object.fromEntries(SEARCHABLE.map((k) => [k, { oneOf: [range('uniform'), range('log_uniform', true), range('int')] }])),
        },
      },
    },
  },
};

export const pipelineSchema = {
  type: 'object',
  required: ['name', 'source', 'timestamp', 'label', 'windows', 'features', 'models', 'gates'],
  additionalProperties: false,
  properties: {
    $comment: { type: 'string' },
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
    reference: {
      type: 'object', required: ['description', 'metrics'], additionalProperties: false,
      properties: {
        description: { type: 'string' },
        metrics: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'number' } } },
      },
    },
    description: { type: 'string' },
    source: { type: 'object', required: ['path'], additionalProperties: false, properties: { path: { type: 'string', minLength: 1 } } },
    timestamp: { type: 'string', minLength: 1 },
    label: {
      type: 'object', required: ['column', 'op', 'value'], additionalProperties: false,
      properties: { column: { type: 'string' }, op: { enum: ['>', '>=', '<', '<=', '=='] }, value: { type: 'number' }, names: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 } },
    },
    windows: {
      type: 'object', required: ['train', 'holdout', 'evaluate'], additionalProperties: false,
      properties: {
        train: window,
        holdout: window,
        evaluate: { type: 'array', items: { ...window, required: ['name', 'from', 'to'], properties: { ...window.properties, name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' } } } },
      },
    },
    validation: {
      type: 'object', additionalProperties: false,
      properties: {
        schema: { type: 'object', additionalProperties: { type: 'string' } },
        max_missing_ratio: { type: 'number', minimum: 0, maximum: 1 },
        max_outlier_ratio: { type: 'number', minimum: 0, maximum: 1 },
        iqr_k: { type: 'number', exclusiveMinimum: 0 },
        max_duplicate_ratio: { type: 'number', minimum: 0, maximum: 1 },
        max_cardinality: { type: 'integer', minimum: 1 },
        rare_category_ratio: { type: 'number', minimum: 0, maximum: 1 },
        min_rows: { type: 'integer', minimum: 0 },
      },
    },
    features: {
      type: 'object', required: ['timestamp', 'numeric', 'categorical'], additionalProperties: false,
      properties: {
        timestamp: { type: 'string' },
        numeric: { type: 'array', items: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string' }, transforms: { type: 'array', minItems: 1, items: { enum: ['identity', 'log1p'] } } } } },
        categorical: {
          type: 'array',
          items: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string' }, min_count: { type: 'integer', minimum: 1 }, max_vocabulary: { type: 'integer', minimum: 1 }, normalize: { enum: ['none', 'trim_upper'] } } },
        },
        time: { type: 'object', additionalProperties: false, properties: { units: { type: 'array', items: { enum: ['hour_of_day', 'day_of_week'] } }, cyclic: { type: 'boolean' }, one_hot: { type: 'boolean' } } },
        crosses: { type: 'array', items: { type: 'object', required: ['input', 'hours_per_slot', 'buckets'], additionalProperties: false, properties: { input: { type: 'string' }, hours_per_slot: { type: 'integer', minimum: 1, maximum: 24 }, buckets: { type: 'integer', minimum: 1, maximum: 1 << 20 } } } },
        clip: { type: 'number', exclusiveMinimum: 0 },
      },
    },
    models: { type: 'object', required: ['baseline'], additionalProperties: false, properties: { mlp: model, baseline: model } },
    model: { oneOf: [{ type: 'object', required: ['type'], additionalProperties: false, properties: { type: { const: 'mlp' } } }, gbdtModel] },
    threshold: { oneOf: [
      { type: 'object', required: ['strategy'], additionalProperties: false, properties: { strategy: { const: 'max_f1' } } },
      { type: 'object', required: ['fixed'], additionalProperties: false, properties: { fixed: { type: 'number', minimum: 0, maximum: 1 } } },
    ] },
    gates: {
      type: 'array',
      items: {
        type: 'object', required: ['metric'], additionalProperties: false,
        properties: {
          name: { type: 'string' }, metric, windows: { oneOf: [{ const: 'all' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] },
          model: { enum: ['mlp', 'gbdt', 'baseline'] }, min: { type: 'number' }, max: { type: 'number' }, beats_baseline_by: { type: 'number' },
        },
        anyOf: [{ required: ['min'] }, { required: ['max'] }, { required: ['beats_baseline_by'] }],
      },
    },
    export: { type: 'object', additionalProperties: false, properties: { opset: { type: 'integer', minimum: 13, maximum: 21 }, check_rows: { type: 'integer', minimum: 1 }, tolerance: { type: 'number', exclusiveMinimum: 0 }, model: { enum: ['mlp', 'gbdt', 'baseline'] } } },
    serving: { type: 'object', additionalProperties: false, properties: { max_batch_size: { type: 'integer', minimum: 1 }, max_queue_delay_ms: { type: 'number', minimum: 0 }, backend: { enum: ['auto', 'native', 'onnxruntime'] } } },
    online_features: onlineFeatures,
    profile: { type: 'object', additionalProperties: false, properties: { bins: { type: 'integer', minimum: 2, maximum: 1000 }, top_k: { type: 'integer', minimum: 1, maximum: 1000 } } },
  },
} as const;

/**
 * Compiled on first use, not at import: every `infera` command (the server too) imports this
 * module through the CLI, and compiling the schema at load measurably slowed the server's
 * requests (one-row /predict, 64 connections: 16.1k req/s with the search ranges compiled at
 * load against 19.5k without; h2load, server pinned to one core).
 */
let compiled: ValidateFunction | null = null;
const check = (raw: unknown): boolean => (compiled ??= new Ajv({ allErrors: true, strict: false }).compile(pipelineSchema))(raw);

function describe(err: ErrorObject): string {
  const where = err.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : '(root)';
  if (err.keyword === 'additionalProperties') return `${where}: unknown field '${(err.params as { additionalProperty: string }).additionalProperty}'`;
  if (err.keyword === 'required') return `${where}: missing field '${(err.params as { missingProperty: string }).missingProperty}'`;
  return `${where}: ${err.message}`;
}

/** Checks a parsed pipeline document. @throws Error naming the file and each bad field. */
export function parsePipelineConfig(raw: unknown, file: string): PipelineConfig {
  if (!check(raw)) {
    const errs = (compiled!.errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
    const list = errs.length ? errs : compiled!.errors ?? [];
    throw new Error(`${file}: ${list.map(describe).join('; ')}`);
  }
  const cfg = raw as unknown as PipelineConfig;
  const names = ['holdout', ...cfg.windows.evaluate.map((w) => w.name)];
  if (new Set(names).size !== names.length) throw new Error(`${file}: windows.evaluate: window names must be unique and not 'holdout'`);
  for (const [i, w] of [cfg.windows.train, cfg.windows.holdout, ...cfg.windows.evaluate].entries()) {
    if (w.from >= w.to) throw new Error(`${file}: window ${i}: 'from' (${w.from}) must be before 'to' (${w.to})`);
  }
  if (cfg.features.timestamp !== cfg.timestamp) throw new Error(`${file}: features.timestamp must be '${cfg.timestamp}'`);
  const primary = primaryModel(cfg);
  if (primary === 'mlp' && !cfg.models.mlp) throw new Error(`${file}: models: missing field 'mlp' (the model trained unless "model" is {"type": "gbdt"})`);
  const es = cfg.model?.type === 'gbdt' ? cfg.model : undefined;
  const held = 'model.early_stopping_window or model.validation_days';
  if (es?.early_stopping_window && es.validation_days) throw new Error(`${file}: model.early_stopping_window and model.validation_days both name the validation rows; keep one`);
  const hasValidation = !!(es?.early_stopping_window || es?.validation_days);
  if (es?.early_stopping_rounds && !hasValidation) throw new Error(`${file}: model.early_stopping_rounds needs ${held} (rows of the training window held out of the fit)`);
  if (es?.search && !hasValidation) throw new Error(`${file}: model.search scores its trials on ${held} (rows held out of the fit); name one`);
  for (const [k, r] of Object.entries(es?.search?.space ?? {})) {
    const [lo, hi] = Object.values(r as SearchRange)[0] as [number, number];
    if (!(lo <= hi)) throw new Error(`${file}: model.search.space.${k}: low ${lo} > high ${hi}`);
  }
  if (es?.calibration === 'platt' && !hasValidation) throw new Error(`${file}: model.calibration 'platt' is fitted on ${held} (rows held out of the fit); name one`);
  if (es?.early_stopping_window) {
    const [w, t] = [es.early_stopping_window, cfg.windows.train];
    if (!(w.from > t.from && w.from < w.to && w.to <= t.to)) throw new Error(`${file}: model.early_stopping_window [${w.from}, ${w.to}) must lie inside the training window [${t.from}, ${t.to}) and leave rows to fit`);
  }
  if (es?.validation_days) {
    const { every, offset = 0 } = es.validation_days;
    const days = trainingDays(cfg.windows.train);
    if (offset >= every) throw new Error(`${file}: model.validation_days.offset ${offset} must be below every (${every})`);
    if (every % 7 === 0) throw new Error(`${file}: model.validation_days.every ${every} is a multiple of 7: every validation day would be the same weekday (day_of_week is an input); pick another`);
    if (offset >= days) throw new Error(`${file}: model.validation_days: the training window has ${days} day(s), none of them day ${offset} (offset); no validation rows`);
    if (days < 2) throw new Error(`${file}: model.validation_days: the training window has one day; no day is left to fit`);
  }
  for (const [what, m] of [...cfg.gates.map((g, i) => [`gates.${i}.model`, g.model] as const), ['export.model', cfg.export?.model] as const]) {
    if (m !== undefined && m !== 'baseline' && m !== primary) throw new Error(`${file}: ${what}: '${m}' is not trained by this pipeline (it trains '${primary}' and the baseline)`);
  }
  if (cfg.online_features) onlineFeaturesOf(cfg, file);
  // 'validation': the GBDT's held-out validation rows (scored after calibration). The baseline
  // is fitted on them, so it has no validation metrics to gate or to beat.
  const gateable = hasValidation ? [...names, 'validation'] : names;
  cfg.gates.forEach((g, i) => {
    if (Array.isArray(g.windows)) {
      for (const w of g.windows) if (!gateable.includes(w)) throw new Error(`${file}: gates.${i}.windows: unknown window '${w}' (have ${gateable.join(', ')})`);
      if (g.windows.includes('validation') && (g.model === 'baseline' || g.beats_baseline_by !== undefined)) throw new Error(`${file}: gates.${i}: the baseline is fitted on the validation rows; gate the ${primary} alone there (no model 'baseline', no beats_baseline_by)`);
    }
  });
  return cfg;
}

/** Days (started) in a window: the validation days are counted from its start. */
function trainingDays(w: TimeWindow): number {
  return Math.ceil((parseTimestamp(w.to) - parseTimestamp(w.from)) / MS_PER_DAY);
}

/** The GBDT's held-out validation rows: which timestamps, and what the card records of them. */
export interface ValidationRows {
  /** True for a timestamp (epoch ms) held out of the fit. */
  held: (t: number) => boolean;
  /** The rule, and for validation_days the days it picks (YYYY-MM-DD of each day's start). */
  describe: { early_stopping_window: TimeWindow } | { validation_days: Required<ValidationDays>; days: string[] };
}

/** The validation rows of a GBDT model inside the training window `train`, or null without any. */
export function validationRows(train: TimeWindow, model: Pick<GbdtParams, 'early_stopping_window' | 'validation_days'>): ValidationRows | null {
  if (model.early_stopping_window) {
    const w = model.early_stopping_window;
    const [from, to] = [parseTimestamp(w.from), parseTimestamp(w.to)];
    return { held: (t) => t >= from && t < to, describe: { early_stopping_window: w } };
  }
  if (model.validation_days) {
    const { every, offset = 0 } = model.validation_days;
    const start = parseTimestamp(train.from);
    const days: string[] = [];
    for (let d = offset; d < trainingDays(train); d += every) days.push(new Date(start + d * MS_PER_DAY).toISOString().slice(0, train.from.length > 10 ? 16 : 10).replace('T', ' '));
    return { held: (t) => (((Math.floor((t - start) / MS_PER_DAY) % every) + every) % every) === offset, describe: { validation_days: { every, offset }, days } };
  }
  return null;
}

/** Reads a pipeline file; source paths are resolved relative to it. */
export function loadPipelineConfig(file: string): { config: PipelineConfig; sourcePath: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const config = parsePipelineConfig(raw, file);
  return { config, sourcePath: path.resolve(path.dirname(file), config.source.path) };
}

/** The model trained next to the baseline. */
export function primaryModel(cfg: PipelineConfig): PrimaryModel {
  return cfg.model?.type ?? 'mlp';
}

/** Names of the windows a gate covers. */
export function gateWindows(g: Gate, cfg: PipelineConfig): string[] {
  return g.windows === undefined || g.windows === 'all' ? ['holdout', ...cfg.windows.evaluate.map((w) => w.name)] : g.windows;
}

/**
 * The pipeline's online features in the feature spec's form (durations in ms), checked
 * against the pipeline's inputs; undefined without any.
 * @throws Error naming the file and the feature.
 */
export function onlineFeaturesOf(cfg: PipelineConfig, file = 'pipeline'): OnlineFeatures | undefined {
  const o = cfg.online_features;
  if (!o) return undefined;
  const inputs = new Set([cfg.timestamp, ...cfg.features.numeric.map((n) => n.name), ...cfg.features.categorical.map((c) => c.name)]);
  const categorical = new Set(cfg.features.categorical.map((c) => c.name));
  const out: OnlineFeatures = { source: o.source, timestamp: cfg.timestamp, available_after_ms: parseDuration(o.available_after), max_staleness_ms: parseDuration(o.max_staleness), features: [] };
  const seen = new Set<string>();
  for (const [i, f] of o.features.entries()) {
    const at = `${file}: online_features.features.${i} ('${f.name}')`;
    if (seen.has(f.name)) throw new Error(`${at}: duplicate name`);
    seen.add(f.name);
    if (inputs.has(f.name) || f.name === cfg.label.column) throw new Error(`${at}: the name is already a column of the source; pick another`);
    for (const c of f.entity) if (!categorical.has(c)) throw new Error(`${at}: entity column '${c}' must be a categorical input (features.categorical)`);
    if (f.aggregate !== 'count' && !f.column) throw new Error(`${at}: '${f.aggregate}' needs 'column'`);
    if (f.aggregate === 'rate' && (f.op === undefined || f.value === undefined)) throw new Error(`${at}: 'rate' needs 'op' and 'value' (the share of events where column op value)`);
    const windowMs = parseDuration(f.window);
    if (!(windowMs > out.available_after_ms)) throw new Error(`${at}: window ${f.window} must be longer than available_after ${o.available_after}`);
    out.features.push({
      name: f.name, entity: f.entity, window_ms: windowMs, aggregate: f.aggregate, default: f.default,
      ...(f.aggregate !== 'count' ? { column: f.column } : {}),
      ...(f.aggregate === 'rate' ? { op: f.op, value: f.value } : {}),
    });
  }
  return out;
}
