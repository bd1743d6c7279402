/**
 * Ends a canary on measured evidence. Fed every served observation (through the monitoring
 * hub, off the request path) and checked every `interval_ms`, for each model whose
 * deployment has a candidate:
 *  - guardrails, no labels needed, once the candidate has `min_requests` requests: its
 *    error rate above stable's by more than `max_error_rate_increase`; its p99 latency (from
 *    2 × min_requests requests per arm) above both `latency_factor` × stable's and stable's
 *    + `latency_floor_ms`; its predictions
 *    collapsed (standard deviation below `collapse_ratio` × stable's) or shifted (means
 *    apart by more than `prediction_shift` × stable's standard deviation). A breach rolls
 *    back at once;
 *  - quality, once labels arrive (feedback joins them in the prediction log): the mSPRT of
 *    sequential-test.ts on the AUC difference, candidate − stable, over the requests since
 *    the deployment began; Λ ≥ 1/alpha promotes (candidate better) or rolls back (worse).
 *    Ranking, not log loss: on these flights the logistic baseline ranks 0.02–0.05 AUC worse
 *    than the MLP yet has the lower log loss from April on (the late rate drifts; it is
 *    better calibrated to it), so a log-loss test would promote the worse ranker.
 * Every decision goes to the registry's audit log with its evidence and fires an alert.
 * With `require_approval` the decision is only alerted, never applied.
 */
import type { AlertManager } from '../monitoring/alerts';
import type { Joined, PredictionLog } from '../monitoring/prediction-log';
import type { Deployment, ModelRegistry } from '../registry/registry';
import { auc } from '../stats/classification';
import { compareArms } from './sequential-test';

/** The reads of the prediction log the controller makes (synchronous on the log itself). */
export interface LoggedPredictions {
  joined(...args: Parameters<PredictionLog['joined']>): Joined | Promise<Joined>;
  paired(...args: Parameters<PredictionLog['paired']>): ReturnType<PredictionLog['paired']> | Promise<ReturnType<PredictionLog['paired']>>;
}

export interface RolloutConfig {
  /** Decide automatically (false: evidence is gathered and shown, nothing is decided). */
  auto: boolean;
  /** Alert the decision but leave the deployment to a human. */
  require_approval: boolean;
  min_requests: number;
  max_error_rate_increase: number;
  latency_factor: number;
  latency_floor_ms: number;
  collapse_ratio: number;
  prediction_shift: number;
  /** mSPRT: the false-decision rate bound and the scale of AUC differences looked for. */
  alpha: number;
  tau: number;
  /** Labels per arm before the quality test is consulted. */
  min_labels: number;
  interval_ms: number;
}

export const DEFAULT_ROLLOUT: RolloutConfig = {
  auto: true,
  require_approval: false,
  min_requests: 100,
  max_error_rate_increase: 0.02,
  latency_factor: 2,
  latency_floor_ms: 50,
  collapse_ratio: 0.1,
  prediction_shift: 0.5,
  alpha: 0.05,
  tau: 0.04,
  min_labels: 200,
  interval_ms: 1000,
};

const LATENCY_RING = 2048;

/** What the controller keeps per version under a deployment. */
class ArmStats {
  requests = 0;
  errors = 0;
  private readonly latencies = new Float64Array(LATENCY_RING);
  private predN = 0;
  private predMean = 0;
  private predM2 = 0;

  request(predictions: ArrayLike<number>, latencyMs: number | undefined): void {
    this.requests++;
    if (latencyMs !== undefined) this.latencies[(this.requests - 1) % LATENCY_RING] = latencyMs;
    for (let i = 0; i < predictions.length; i++) {
      const x = predictions[i];
      if (!Number.isFinite(x)) continue;
      this.predN++;
      const d = x - this.predMean;
      this.predMean += d / this.predN;
      this.predM2 += d * (x - this.predMean);
    }
  }

  get errorRate(): number {
    const all = this.requests + this.errors;
    return all ? this.errors / all : 0;
  }

  get p99(): number {
    const n = Math.min(this.requests, LATENCY_RING);
    if (n === 0) return 0;
    const sorted = this.latencies.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.floor(0.99 * n))];
  }

  get prediction(): { n: number; mean: number; std: number } {
    return { n: this.predN, mean: this.predMean, std: this.predN > 1 ? Math.sqrt(this.predM2 / (this.predN - 1)) : 0 };
  }
}

/** What the controller reports of one arm. */
interface ArmSummary {
  version: number;
  requests: number;
  errors: number;
  error_rate: number;
  p99_ms: number;
  prediction: { n: number; mean: number; std: number };
  labels: number;
}

export interface RolloutDecision {
  model: string;
  action: 'promote' | 'rollback';
  rule: string;
  candidate: number;
  stable: number;
  evidence: Record<string, unknown>;
  applied: boolean;
}

interface Tracked {
  key: string;
  deployment: Deployment;
  arms: Map<number, ArmStats>;
  decided: RolloutDecision | null;
}

export class RolloutController {
  readonly config: RolloutConfig;
  private readonly tracked = new Map<string, Tracked>();
  private readonly decisions: RolloutDecision[] = [];

  constructor(private readonly opts: {
    registry: ModelRegistry;
    /** The prediction log's reads: the log itself, or the monitoring thread's (asynchronous). */
    log: LoggedPredictions;
    alerts?: AlertManager;
    config?: Partial<RolloutConfig>;
    /** After the registry changed (the repository reloads what it names). */
    onChange?: (model: string) => Promise<unknown> | void;
    /** The model's decision threshold (shadow agreement); 0.5 without one. */
    thresholdOf?: (model: string) => number | undefined;
  }) {
    this.config = { ...DEFAULT_ROLLOUT, ...opts.config };
  }

  /** One served request (or a failed one: predictions null). O(rows); ignored unless the model is under a canary. */
  observe(model: string, version: number, predictions: ArrayLike<number> | null, latencyMs?: number): void {
    const t = this.tracked.get(model);
    if (!t || t.decided) return;
    const d = t.deployment;
    if (version !== d.stable && version !== d.candidate) return;
    let arm = t.arms.get(version);
    if (!arm) t.arms.set(version, (arm = new ArmStats()));
    if (predictions === null) arm.errors++;
    else arm.request(predictions, latencyMs);
  }

  recent(model?: string): RolloutDecision[] {
    return this.decisions.filter((d) => model === undefined || d.model === model);
  }

  /** The evidence so far for a model under a canary (for the status route); null when none. */
  async status(model: string): Promise<Record<string, unknown> | null> {
    const t = this.tracked.get(model);
    if (!t || t.deployment.candidate === null) return null;
    const { stable, candidate } = await this.evidence(t);
    return { deployment: t.deployment, stable, candidate, ...(t.deployment.mode === 'shadow' ? { shadow: await this.shadowEvidence(t.deployment) } : {}), decided: t.decided };
  }

  /**
   * Shadow mode: the requests both versions answered, side by side. Agreement is the share of
   * them on which both give the same class at the model's threshold; AUCs are over the
   * labelled ones (the same rows for both: a paired comparison).
   */
  async shadowEvidence(d: Deployment): Promise<Record<string, number>> {
    const p = await this.opts.log.paired(d.model, d.stable, d.candidate!, d.updatedAt);
    const th = this.opts.thresholdOf?.(d.model) ?? 0.5;
    let agree = 0;
    let absDiff = 0;
    const li: number[] = [];
    for (let i = 0; i < p.stable.length; i++) {
      if (p.stable[i] >= th === p.candidate[i] >= th) agree++;
      absDiff += Math.abs(p.stable[i] - p.candidate[i]);
      if (!Number.isNaN(p.labels[i])) li.push(i);
    }
    const pick = (a: Float64Array) => li.map((i) => a[i]);
    const labels = pick(p.labels);
    return {
      requests: p.stable.length, agreement: p.stable.length ? agree / p.stable.length : NaN, mean_abs_difference: p.stable.length ? absDiff / p.stable.length : NaN,
      labelled: labels.length, auc_stable: labels.length ? auc(labels, pick(p.stable)) : NaN, auc_candidate: labels.length ? auc(labels, pick(p.candidate)) : NaN,
    };
  }

  /** Refreshes what is under a canary and decides where the evidence suffices. */
  async tick(models: string[]): Promise<RolloutDecision[]> {
    const out: RolloutDecision[] = [];
    for (const model of models) {
      const d = this.opts.registry.deployment(model);
      if (!d || d.candidate === null) {
        this.tracked.delete(model);
        continue;
      }
      const key = `${d.stable}>${d.candidate}@${d.updatedAt}`;
      let t = this.tracked.get(model);
      if (!t || t.key !== key) this.tracked.set(model, (t = { key, deployment: d, arms: new Map(), decided: null }));
      if (t.decided || !this.config.auto) continue;
      const decision = await this.decide(t);
      if (!decision) continue;
      t.decided = decision;
      if (!this.config.require_approval) {
        const evidence = { rule: decision.rule, ...decision.evidence };
        if (decision.action === 'rollback') this.opts.registry.rollback(model, 'rollout-controller', evidence);
        else this.opts.registry.promote(model, 'rollout-controller', evidence);
        decision.applied = true;
        await this.opts.onChange?.(model);
      }
      this.opts.alerts?.evaluate({
        rule: `rollout_${decision.action}`, type: 'rollout', severity: decision.action === 'rollback' ? 'critical' : 'warning', cooldownMs: 0,
        model, version: decision.candidate, firing: true, value: Number(decision.evidence.value ?? 0), limit: Number(decision.evidence.limit ?? 0),
        message: `${decision.applied ? '' : 'awaiting approval: '}${decision.action} ${model} version ${decision.candidate} (stable ${decision.stable}) on ${decision.rule}`,
      });
      this.decisions.push(decision);
      out.push(decision);
    }
    return out;
  }

  /** One arm's counters since the deployment began, and its labelled predictions from the log. */
  private async arm(t: Tracked, version: number): Promise<{ summary: ArmSummary; labelled: Joined }> {
    const a = t.arms.get(version) ?? new ArmStats();
    const d = t.deployment;
    const labelled = await this.opts.log.joined(d.model, version, 'arrival_ms', d.updatedAt, Number.MAX_SAFE_INTEGER);
    return { summary: { version, requests: a.requests, errors: a.errors, error_rate: a.errorRate, p99_ms: a.p99, prediction: a.prediction, labels: labelled.labels.length }, labelled };
  }

  private async evidence(t: Tracked): Promise<{ stable: ArmSummary; candidate: ArmSummary }> {
    return { stable: (await this.arm(t, t.deployment.stable)).summary, candidate: (await this.arm(t, t.deployment.candidate!)).summary };
  }

  private async decide(t: Tracked): Promise<RolloutDecision | null> {
    const cfg = this.config;
    const d = t.deployment;
    const stable = await this.arm(t, d.stable);
    const candidate = await this.arm(t, d.candidate!);
    const s = stable.summary;
    const c = candidate.summary;
    const ev = { stable: s, candidate: c };
    const base = { model: d.model, candidate: d.candidate!, stable: d.stable, applied: false };
    const pack = (action: 'promote' | 'rollback', rule: string, value: number, limit: number, extra: Record<string, unknown> = {}): RolloutDecision => ({
      ...base, action, rule, evidence: { value, limit, stable: ev.stable, candidate: ev.candidate, ...extra },
    });
    if (c.requests + c.errors >= cfg.min_requests) {
      if (c.errors >= 3 && c.error_rate > s.error_rate + cfg.max_error_rate_increase) return pack('rollback', 'error_rate', c.error_rate, s.error_rate + cfg.max_error_rate_increase);
      // A p99 needs a few hundred requests before its top sample stops being one burst's.
      const latencyLimit = Math.max(cfg.latency_factor * s.p99_ms, s.p99_ms + cfg.latency_floor_ms);
      if (s.requests >= 2 * cfg.min_requests && c.requests >= 2 * cfg.min_requests && c.p99_ms > latencyLimit) return pack('rollback', 'latency_p99', c.p99_ms, latencyLimit);
      if (s.prediction.n >= cfg.min_requests && c.prediction.n >= cfg.min_requests) {
        if (c.prediction.std < cfg.collapse_ratio * s.prediction.std) return pack('rollback', 'prediction_collapse', c.prediction.std, cfg.collapse_ratio * s.prediction.std);
        const shift = Math.abs(c.prediction.mean - s.prediction.mean);
        if (shift > cfg.prediction_shift * s.prediction.std) return pack('rollback', 'prediction_shift', shift, cfg.prediction_shift * s.prediction.std);
      }
    }
    const ls = stable.labelled;
    const lc = candidate.labelled;
    if (ls.labels.length >= cfg.min_labels && lc.labels.length >= cfg.min_labels) {
      const q = compareArms(ls, lc, cfg.alpha, cfg.tau);
      if (q.decision) {
        const { decision, ...quality } = q;
        return pack(decision, 'quality', q.lambda, 1 / cfg.alpha, { ...quality, alpha: cfg.alpha });
      }
    }
    return null;
  }
}
