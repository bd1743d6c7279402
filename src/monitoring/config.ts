/**
 * Monitoring settings: windows, drift tests, prediction checks, the prediction log,
 * performance, alert rules and sinks, the observe queue. Every field has a default, so
 * `{}` is a working config; a JSON file may override any part. Durations are ms or text
 * ("500ms", "30s", "15m", "6h", "1d").
 */
import fs from 'node:fs';
import { DriftOptions } from './drift-report';
import { TEST_NAMES, TestName } from './drift-tests';
import { PredictionCheckOptions } from './prediction-checks';
import { PredictionLogOptions } from './prediction-log';
import { checkWindowSpec, WindowSpec } from './windows';

export type AlertRule = { name?: string; cooldown_ms?: number; severity?: 'warning' | 'critical' } & (
  | { type: 'drift_share'; window?: string; threshold: number }
  | { type: 'feature_drift'; column: string; window?: string; threshold?: number }
  | { type: 'prediction_drift'; window?: string }
  | { type: 'target_drift'; window?: string }
  | { type: 'auc_drop'; window?: string; max_drop: number }
  | { type: 'latency_p99'; objective_ms: number; min_requests?: number }
  | { type: 'error_rate'; max: number; min_requests?: number }
);

export interface WebhookConfig {
  url: string;
  timeout_ms?: number;
  max_attempts?: number;
  backoff_ms?: number;
}

export interface MonitoringConfig {
  windows: WindowSpec[];
  drift: DriftOptions;
  predictions: PredictionCheckOptions;
  log: PredictionLogOptions;
  /**
   * Live quality. Target drift of a binary label: two-proportion z-test against the training
   * window's rate, drifted when p < target_alpha (0.01) and the rate moved by at least
   * target_min_effect (0.05); `target_test` (+ `target_threshold`) uses a distribution test instead.
   */
  performance: { min_labels: number; calibration_bins: number; target_alpha?: number; target_min_effect?: number; target_test?: TestName; target_threshold?: number };
  alerts: { rules: AlertRule[]; cooldown_ms: number; webhook?: WebhookConfig; log: boolean };
  /** Rows waiting to be profiled at most; beyond, observations are dropped and counted. */
  queue: { max_rows: number };
  /** Span of the arrival-time window for latency and error-rate rules. */
  ops_window_ms: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v.trim()) : null;
  if (!m) throw new Error(`${where}: expected a duration (ms, or like "15m", "1d"), got ${JSON.stringify(v)}`);
  return Number(m[1]) * UNITS[m[2]];
}

export const DEFAULT_CONFIG: MonitoringConfig = {
  windows: [
    { name: 'hour', type: 'time', length: 3_600_000, step: 3_600_000, clock: 'arrival', keep: 168 },
    { name: 'rows-10k', type: 'count', length: 10_000, step: 10_000, clock: 'arrival', keep: 100 },
  ],
  drift: { correction: 'none', drift_share: 0.5, jsBase: 2 },
  predictions: {},
  log: { path: ':memory:', sampleRate: 1, retentionMs: 7 * 86_400_000, maxRows: 1_000_000, storeInputs: true },
  performance: { min_labels: 100, calibration_bins: 10 },
  alerts: {
    rules: [
      { type: 'drift_share', threshold: 0.5 },
      { type: 'prediction_drift' },
      { type: 'target_drift' },
      { type: 'auc_drop', max_drop: 0.05 },
      { type: 'latency_p99', objective_ms: 250, min_requests: 100 },
      { type: 'error_rate', max: 0.05, min_requests: 100 },
    ],
    cooldown_ms: 15 * 60_000,
    log: true,
  },
  queue: { max_rows: 200_000 },
  ops_window_ms: 5 * 60_000,
};

const RULE_TYPES = ['drift_share', 'feature_drift', 'prediction_drift', 'target_drift', 'auc_drop', 'latency_p99', 'error_rate'];

/** Merges a partial config (parsed JSON) over the defaults and checks it. @throws Error naming the field. */
export function resolveConfig(partial: Record<string, any> = {}, where = 'monitoring config'): MonitoringConfig {
  const c = structuredClone(DEFAULT_CONFIG);
  const known = new Set(Object.keys(DEFAULT_CONFIG));
  for (const k of Object.keys(partial)) if (!known.has(k)) throw new Error(`${where}: unknown field '${k}'`);
  if (partial.windows !== undefined) {
    if (!Array.isArray(partial.windows) || partial.windows.length === 0) throw new Error(`${where}: windows must be a non-empty array`);
    c.windows = partial.windows.map((w: any, i: number) => {
      const at = `${where}: windows.${i}`;
      const length = w.type === 'time' ? parseDuration(w.length, `${at}.length`) : Number(w.length);
      const spec: WindowSpec = { name: String(w.name ?? ''), type: w.type, length, step: w.step === undefined ? length : w.type === 'time' ? parseDuration(w.step, `${at}.step`) : Number(w.step), clock: w.clock ?? 'arrival', keep: w.keep ?? 100 };
      checkWindowSpec(spec, at);
      return spec;
    });
    const names = new Set(c.windows.map((w) => w.name));
    if (names.size !== c.windows.length) throw new Error(`${where}: window names must be unique`);
  }
  if (partial.drift !== undefined) {
    const { js_base: jsBase, ...rest } = partial.drift;
    c.drift = { ...c.drift, ...rest, ...(jsBase !== undefined ? { jsBase: Number(jsBase) } : {}) };
    if (!((c.drift.jsBase ?? 2) > 1)) throw new Error(`${where}: drift.js_base must be > 1`);
  }
  for (const t of [c.drift.numeric_test, c.drift.categorical_test, ...Object.values(c.drift.columns ?? {}).map((x) => x.test)]) {
    if (t !== undefined && !TEST_NAMES.includes(t)) throw new Error(`${where}: unknown test '${t}' (one of ${TEST_NAMES.join(', ')})`);
  }
  if (!['none', 'bonferroni', 'bh'].includes(c.drift.correction ?? 'none')) throw new Error(`${where}: drift.correction must be none, bonferroni or bh`);
  if (!((c.drift.drift_share ?? 0.5) > 0 && (c.drift.drift_share ?? 0.5) <= 1)) throw new Error(`${where}: drift.drift_share must be in (0, 1]`);
  if (partial.predictions !== undefined) c.predictions = { ...c.predictions, ...partial.predictions };
  if (partial.log !== undefined) {
    // JSON in snake_case: path, sample_rate, retention, max_rows, store_inputs.
    const l = partial.log;
    for (const k of Object.keys(l)) if (!['path', 'sample_rate', 'retention', 'max_rows', 'store_inputs'].includes(k)) throw new Error(`${where}: log.${k} is not a setting`);
    if (l.path !== undefined) c.log.path = String(l.path);
    if (l.sample_rate !== undefined) c.log.sampleRate = Number(l.sample_rate);
    if (l.retention !== undefined) c.log.retentionMs = parseDuration(l.retention, `${where}: log.retention`);
    if (l.max_rows !== undefined) c.log.maxRows = Number(l.max_rows);
    if (l.store_inputs !== undefined) c.log.storeInputs = Boolean(l.store_inputs);
    if (!(c.log.sampleRate! >= 0 && c.log.sampleRate! <= 1)) throw new Error(`${where}: log.sample_rate must be in [0, 1]`);
  }
  if (partial.performance !== undefined) {
    c.performance = { ...c.performance, ...partial.performance };
    const { target_alpha: a, target_min_effect: e } = c.performance;
    if (a !== undefined && !(typeof a === 'number' && a > 0 && a < 1)) throw new Error(`${where}: performance.target_alpha must be in (0, 1)`);
    if (e !== undefined && !(typeof e === 'number' && e >= 0 && e < 1)) throw new Error(`${where}: performance.target_min_effect must be in [0, 1)`);
  }
  if (partial.alerts !== undefined) {
    const a = partial.alerts;
    c.alerts = { ...c.alerts, ...a, cooldown_ms: a.cooldown_ms === undefined ? c.alerts.cooldown_ms : parseDuration(a.cooldown_ms, `${where}: alerts.cooldown_ms`) };
  }
  c.alerts.rules.forEach((r, i) => {
    if (!RULE_TYPES.includes(r.type)) throw new Error(`${where}: alerts.rules.${i}.type must be one of ${RULE_TYPES.join(', ')}`);
    if ('window' in r && r.window !== undefined && !c.windows.some((w) => w.name === r.window)) throw new Error(`${where}: alerts.rules.${i}.window: no window named '${r.window}'`);
  });
  if (c.alerts.webhook && !/^https?:\/\//.test(c.alerts.webhook.url ?? '')) throw new Error(`${where}: alerts.webhook.url must be an http(s) URL`);
  if (partial.queue !== undefined) c.queue = { ...c.queue, ...partial.queue };
  if (partial.ops_window_ms !== undefined) c.ops_window_ms = parseDuration(partial.ops_window_ms, `${where}: ops_window_ms`);
  return c;
}

export function loadConfigFile(file: string): MonitoringConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file}: expected a JSON object`);
  return resolveConfig(parsed as Record<string, any>, file);
}
