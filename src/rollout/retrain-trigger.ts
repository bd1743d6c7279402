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
import path from 'node:path';
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
    registry.record('retrain-trigger', 'retrain_start', model, alert.version, { alert: alert.rule, message: alert.message, pipeline: rule.pipeline });
    this.opts.log?.({ model, alert: alert.rule, pipeline: rule.pipeline }, 'retraining on a monitoring alert');
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'train', path.resolve(rule.pipeline), '--repository', this.opts.repository, '--json'], {
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
