/**
 * The server's one config file (JSON, `infera serve --config FILE` or INFERA_CONFIG): the
 * server itself, batching defaults for models whose model.json leaves a field out,
 * monitoring (the same fields as the monitoring config), and auth. Precedence, lowest
 * first: built-in defaults < this file < environment variables < command-line flags.
 * `infera config print` shows the effective settings and where each came from.
 */
import fs from 'node:fs';
import Ajv, { ErrorObject } from 'ajv';
import { InferaError } from '../errors';

export interface ServerConfigFile {
  server?: {
    repository?: string;
    host?: string;
    port?: number;
    grpc_port?: number;
    workers?: number;
    max_body?: number;
    predict_cache?: number;
    /** A shared /predict result cache: redis:// or rediss:// URL (default: the in-process LRU). */
    cache_url?: string;
    /** Seconds an answer lives in the shared cache (default 3600). */
    cache_ttl_s?: number;
    default_model?: string;
    log_level?: string;
    reuse_port?: boolean;
    /** Serving processes on the port (a positive integer, or "auto": one per CPU). */
    processes?: number | 'auto';
    /** With processes > 1 and no database_url: accept that each process keeps its own prediction log and monitoring. */
    per_process_state?: boolean;
    sandbox?: boolean;
    /** The model registry file (default <repository>/.infera/registry.sqlite). */
    registry?: string;
    /** Seconds a version the registry stopped naming stays loaded (default 60). */
    keep_warm_s?: number;
    /** The directory batch scoring jobs over HTTP read and write in. */
    score_dir?: string;
    /** PostgreSQL shared by the replicas (the prediction log and the feedback join). */
    database_url?: string;
  };
  /** Defaults for model.json `batching` fields a model leaves out. */
  batching?: Record<string, unknown>;
  /** The monitoring config (src/monitoring/config.ts); checked there. */
  monitoring?: Record<string, unknown>;
  /** Retraining on drift, per model: { pipeline, rules?, canary_share?, require_approval?, cooldown_ms? }. */
  retrain?: Record<string, { pipeline: string; rules?: string[]; canary_share?: number; require_approval?: boolean; cooldown_ms?: number; newest?: { train_days: number; holdout_days: number } }>;
  /** Automatic promotion / rollback of canaries (src/rollout/rollout-controller.ts, DEFAULT_ROLLOUT). */
  rollout?: Record<string, number | boolean>;
  auth?: {
    admin_token?: string;
    /** Keys accepted on the inference routes (Authorization: Bearer <key> or X-API-Key). */
    api_keys?: string[];
    /** Origins allowed to call the API from a browser (CORS); "*" for any. */
    cors_origins?: string[];
  };
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        repository: { type: 'string', minLength: 1 },
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        grpc_port: { type: 'integer', minimum: 0, maximum: 65535 },
        workers: { type: 'integer', minimum: 1 },
        max_body: { type: 'integer', minimum: 1 },
        predict_cache: { type: 'integer', minimum: 0 },
        cache_url: { type: 'string', pattern: '^rediss?://' },
        cache_ttl_s: { type: 'integer', minimum: 1 },
        default_model: { type: 'string', minLength: 1 },
        log_level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
        reuse_port: { type: 'boolean' },
        processes: { oneOf: [{ type: 'integer', minimum: 1 }, { const: 'auto' }] },
        per_process_state: { type: 'boolean' },
        sandbox: { type: 'boolean' },
        registry: { type: 'string', minLength: 1 },
        keep_warm_s: { type: 'integer', minimum: 0 },
        score_dir: { type: 'string', minLength: 1 },
        database_url: { type: 'string', minLength: 1 },
      },
    },
    batching: {
      type: 'object',
      additionalProperties: false,
      properties: {
        policy: { enum: ['static', 'adaptive'] },
        max_queue_delay_ms: { type: 'number', minimum: 0 },
        latency_slo_ms: { type: 'number', exclusiveMinimum: 0 },
        max_queue_size: { type: 'integer', minimum: 1 },
        timeout_ms: { type: 'number', exclusiveMinimum: 0 },
      },
    },
    monitoring: { type: 'object' },
    retrain: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['pipeline'],
        additionalProperties: false,
        properties: {
          pipeline: { type: 'string', minLength: 1 },
          rules: { type: 'array', items: { enum: ['drift_share', 'feature_drift', 'prediction_drift', 'target_drift', 'auc_drop', 'latency_p99', 'error_rate'] } },
          canary_share: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
          require_approval: { type: 'boolean' },
          cooldown_ms: { type: 'integer', minimum: 0 },
          newest: { type: 'object', required: ['train_days', 'holdout_days'], additionalProperties: false, properties: { train_days: { type: 'integer', minimum: 1 }, holdout_days: { type: 'integer', minimum: 1 } } },
        },
      },
    },
    rollout: {
      type: 'object',
      additionalProperties: false,
      properties: {
        auto: { type: 'boolean' },
        require_approval: { type: 'boolean' },
        min_requests: { type: 'integer', minimum: 1 },
        max_error_rate_increase: { type: 'number', minimum: 0, maximum: 1 },
        latency_factor: { type: 'number', minimum: 1 },
        latency_floor_ms: { type: 'number', minimum: 0 },
        collapse_ratio: { type: 'number', minimum: 0, maximum: 1 },
        prediction_shift: { type: 'number', exclusiveMinimum: 0 },
        alpha: { type: 'number', exclusiveMinimum: 0, maximum: 0.5 },
        tau: { type: 'number', exclusiveMinimum: 0 },
        min_labels: { type: 'integer', minimum: 10 },
        interval_ms: { type: 'integer', minimum: 10 },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        admin_token: { type: 'string', minLength: 8 },
        api_keys: { type: 'array', items: { type: 'string', minLength: 16 } },
        cors_origins: { type: 'array', items: { type: 'string', pattern: '^(\\*|https?://[^/\\s]+)$' } },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

function describe(err: ErrorObject): string {
  const where = err.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : '(root)';
  if (err.keyword === 'additionalProperties') return `${where === '(root)' ? '' : `${where}.`}${(err.params as { additionalProperty: string }).additionalProperty}: unknown field`;
  return `${where}: ${err.message}`;
}

/**
 * Reads and checks a server config file.
 * @throws InferaError ENG_ERR_CONFIG naming the file and every bad field.
 */
export function loadServerConfigFile(file: string): ServerConfigFile {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InferaError('ENG_ERR_CONFIG', `${file}: ${(e as Error).message}`);
  }
  if (!validate(doc)) throw new InferaError('ENG_ERR_CONFIG', `${file}: ${(validate.errors ?? []).map(describe).join('; ')}`);
  return doc as ServerConfigFile;
}
