/**
 * Retraining on drift: an alert sink that, for a model configured with a pipeline, answers a
 * firing monitoring rule (target drift, AUC drop, dataset drift, ...) by running
 * `infera train <pipeline>` in a child process (the event loop keeps serving), and deploys
 * the gated output as a canary next to the serving version: from "the world drifted" to "a
 * candidate under evidence" without a human. With `require_approval` the new version is
 * registered as `candidate` and an approval is requested (audit + log) instead of deployed.
 * One run per model at a time; a model is not retrained again within `cooldown_ms`.
 * Every step lands in the registry's audit log.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as WarehouseModule from '../data/warehouse';
import type * as PipelineConfigModule from '../pipeline/pipeline-config';
import type { Alert, AlertSink } from '../monitoring/alerts';
import type { ModelRegistry } from '../registry/registry';

export interface RetrainRule {
  /** The pipeline file `infera train` runs (its gates decide whether a version is registered). */
  pipeline: string;
  /** Alert rules that start a run (default: target_drift, auc_drop, drift_share). */
  rules?: string[];
  /** The new version's canary share (default 0.2). */
  canary_share?: number;
  require_approval?: boolean;
  /** No second run for the model within this long (default one day). */
  cooldown_ms?: number;
  /**
   * Train on the newest data instead of the pipeline's own windows: train on the `train_days`
   * before the last `holdout_days` of the source, hold those out (the gates judge them).
   */
  newest?: { train_days: number; holdout_days: number };
}

const DAY_MS = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * A copy of the pipeline whose windows end at the newest row of its source: train on
 * [end − holdout − train, end − holdout), hold out [end − holdout, end) (end = the day after
 * the newest row), no other evaluation window; gates that named windows judge the holdout.
 * @returns the path of the derived pipeline file (in `dir`).
 */
export async function newestWindowPipeline(pipeline: string, newest: { train_days: number; holdout_days: number }, dir: string): Promise<string> {
  // Loaded here, on the first retrain with `newest`, not with the server: DuckDB and the
  // pipeline's schema are training code (issue 12: `infera serve` loads what serving needs).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadPipelineConfig } = require('../pipeline/pipeline-config') as typeof PipelineConfigModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { quoteIdent, readerSql, Warehouse } = require('../data/warehouse') as typeof WarehouseModule;
  const { config, sourcePath } = loadPipelineConfig(pipeline);
  const wh = await Warehouse.open();
  let maxMs: number;
  try {
    const ts = quoteIdent(config.timestamp);
    const [r] = await wh.query<{ m: string | null }>(`SELECT strftime(max(${ts}), '%Y-%m-%d') AS m FROM ${readerSql(sourcePath)}`);
    if (!r?.m) throw new Error(`${sourcePath}: no rows with a ${config.timestamp}`);
    maxMs = Date.parse(`${r.m}T00:00:00Z`);
  } finally {
    wh.close();
  }
  const end = maxMs + DAY_MS;
  const holdoutFrom = end - newest.holdout_days * DAY_MS;
  const derived = {
    ...config,
    source: { ...config.source, path: sourcePath },
    windows: {
      train: { from: isoDay(holdoutFrom - newest.train_days * DAY_MS), to: isoDay(holdoutFrom) },
      holdout: { from: isoDay(holdoutFrom), to: isoDay(end) },
      evaluate: [],
    },
    gates: (config.gates ?? []).map((g) => (Array.isArray(g.windows) ? { ...g, windows: ['holdout'] } : g)),
  };
  const file = path.join(dir, `${config.name}-newest-${isoDay(end)}.json`);
  fs.writeFileSync(file, JSON.stringify(derived, null, 2));
  return file;
}

export interface RetrainRun {
  model: string;
  alert: string;
  startedAt: number;
  finishedAt?: number;
  outcome?: 'deployed' | 'awaiting_approval' | 'failed';
  version?: number;
  detail?: string;
}

const CLI = path.resolve(__dirname, '../cli/main.js');

export class RetrainTrigger implements AlertSink {
  readonly name = 'retrain';
  private readonly running = new Map<string, Promise<RetrainRun>>();
  private readonly lastRun = new Map<string, number>();
  readonly runs: RetrainRun[] = [];

  constructor(private readonly opts: {
    repository: string;
    registryPath: string;
    registry: ModelRegistry;
    rules: Record<string, RetrainRule>;
    /** After a deployment changed (the repository loads the new version). */
    onDeployed?: (model: string) => Promise<unknown> | void;
    log?: (obj: Record<string, unknown>, msg: string) => void;
    now?: () => number;
  }) {}

  async send(alert: Alert): Promise<void> {
    const rule = this.opts.rules[alert.model];
    if (!rule || !(rule.rules ?? ['target_drift', 'auc_drop', 'drift_share']).includes(alert.type)) return;
    const now = (this.opts.now ?? Date.now)();
    const last = this.lastRun.get(alert.model);
    if (this.running.has(alert.model) || (last !== undefined && now - last < (rule.cooldown_ms ?? 86_400_000))) return;
    this.lastRun.set(alert.model, now);
    const run = this.retrain(alert, rule).finally(() => this.running.delete(alert.model));
    this.running.set(alert.model, run);
  }

  /** The run in progress for a model (tests, status). */
  current(model: string): Promise<RetrainRun> | undefined {
    return this.running.get(model);
  }

  private async retrain(alert: Alert, rule: RetrainRule): Promise<RetrainRun> {
    const model = alert.model;
    const run: RetrainRun = { model, alert: `${alert.rule} (${alert.message})`, startedAt: Date.now() };
    this.runs.push(run);
    const registry = this.opts.registry;
    registry.record('retrain-trigger', 'retrain_start', model, alert.version, { alert: alert.rule, message: alert.message, pipeline: rule.pipeline, newest: rule.newest ?? null });
    this.opts.log?.({ model, alert: alert.rule, pipeline: rule.pipeline }, 'retraining on a monitoring alert');
    let pipeline = path.resolve(rule.pipeline);
    if (rule.newest) {
      try {
        pipeline = await newestWindowPipeline(pipeline, rule.newest, fs.mkdtempSync(path.join(os.tmpdir(), 'infera-retrain-')));
      } catch (e) {
        run.finishedAt = Date.now();
        run.outcome = 'failed';
        run.detail = (e as Error).message.slice(0, 500);
        registry.record('retrain-trigger', 'retrain_failed', model, null, { alert: alert.rule, detail: run.detail });
        return run;
      }
    }
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'train', pipeline, '--repository', this.opts.repository, '--json'], {
        env: { ...process.env, INFERA_REGISTRY: this.opts.registryPath }, maxBuffer: 1 << 26,
      }, (e, stdout, stderr) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    });
    run.finishedAt = Date.now();
    let version: number | null = null;
    try {
      version = result.code === 0 ? (JSON.parse(result.stdout) as { version: number | null }).version : null;
    } catch {
      version = null;
    }
    if (version === null) {
      run.outcome = 'failed';
      run.detail = (result.stderr.trim().split('\n').pop() ?? '').slice(0, 500);
      registry.record('retrain-trigger', 'retrain_failed', model, null, { alert: alert.rule, exit: result.code, detail: run.detail });
      this.opts.log?.({ model, exit: result.code, detail: run.detail }, 'retraining registered no version');
      return run;
    }
    run.version = version;
    const stable = registry.deployment(model)?.stable ?? registry.alias(model, 'production');
    if (rule.require_approval || stable === null || stable === version) {
      run.outcome = 'awaiting_approval';
      registry.record('retrain-trigger', 'approval_requested', model, version, { alert: alert.rule, stable, deploy: `infera deploy ${model} --stable ${stable ?? '?'} --candidate ${version} --share ${rule.canary_share ?? 0.2}` });
      return run;
    }
    registry.deploy(model, { stable, candidate: version, mode: 'canary', share: rule.canary_share ?? 0.2 }, 'retrain-trigger', { reason: `retrained on alert ${alert.rule}`, alert: alert.message });
    run.outcome = 'deployed';
    await this.opts.onDeployed?.(model);
    return run;
  }
}
