/**
 * Everything monitored for one model version: its windows (each closed window is
 * evaluated once: input drift, prediction checks), live quality from the prediction log
 * (recomputed when labels arrive), request health, and the alert rules over all three.
 * Calendar columns (day of week) are skipped in windows covering fewer days than their
 * period, where they would always "drift".
 */
import { Baseline, DAY_MS } from './baseline';
import { AlertManager, Candidate } from './alerts';
import { AlertRule, MonitoringConfig } from './config';
import { ColumnInput, driftReport, DriftReport } from './drift-report';
import { isDrift } from './drift-tests';
import { EncodedRows, RowEncoder } from './encoder';
import type { MonitoringMetrics } from './metrics';
import { OpsWindow } from './ops';
import { performanceOptions, windowPerformance, WindowPerformance } from './performance';
import { checkPredictions, PredictionReport } from './prediction-checks';
import { PredictionLog, RangeColumn } from './prediction-log';
import { ProfileSketch } from './sketch';
import { ClosedWindow, WindowBounds, WindowSpec, WindowTracker } from './windows';

export interface WindowResult {
  rows: number;
  drift: DriftReport;
  skipped: { column: string; reason: string }[];
  predictions: PredictionReport | null;
  missing: Record<string, number>;
}

export interface MonitorContext {
  config: MonitoringConfig;
  log: PredictionLog;
  alerts: AlertManager;
  metrics?: MonitoringMetrics;
  now: () => number;
}

const ruleName = (r: AlertRule) => r.name ?? r.type;

export class VersionMonitor {
  readonly encoder: RowEncoder;
  readonly trackers: WindowTracker<WindowResult>[];
  readonly ops: OpsWindow;
  seq = 0;
  private readonly perfCache = new Map<string, { revision: number; perf: WindowPerformance }>();

  constructor(readonly model: string, readonly version: number, readonly baseline: Baseline, private readonly ctx: MonitorContext) {
    this.encoder = new RowEncoder(baseline);
    this.ops = new OpsWindow(ctx.config.ops_window_ms);
    this.trackers = ctx.config.windows.map((spec) => new WindowTracker<WindowResult>(spec, baseline, (b, s) => this.closeWindow(spec, b, s)));
  }

  ingest(e: EncodedRows, arrivalMs: number, latencyMs?: number): number {
    const seq0 = this.seq;
    this.seq += e.rows;
    for (const t of this.trackers) t.add(e, arrivalMs, seq0, latencyMs);
    if (latencyMs !== undefined) this.ops.request(arrivalMs, latencyMs);
    return seq0;
  }

  /** Input drift and prediction checks of one window's sketch. */
  evaluate(sketch: ProfileSketch): WindowResult {
    const inputs: ColumnInput[] = [];
    const skipped: WindowResult['skipped'] = [];
    const days = Number.isFinite(sketch.eventMin) ? Math.floor(sketch.eventMax / DAY_MS) - Math.floor(sketch.eventMin / DAY_MS) + 1 : 0;
    const missing: Record<string, number> = {};
    this.baseline.columns.forEach((c, j) => {
      missing[c.name] = sketch.missing[j];
      if (c.kind === 'categorical' && c.minSpanMs && days * DAY_MS < c.minSpanMs) {
        skipped.push({ column: c.name, reason: `window covers ${days} day(s), the column's period is ${c.minSpanMs / DAY_MS} days` });
        return;
      }
      if (sketch.counts[j].every((v) => v === 0)) {
        skipped.push({ column: c.name, reason: 'no values in the window' });
        return;
      }
      inputs.push({ name: c.name, kind: c.kind, ...sketch.distributions(j) });
    });
    const drift = driftReport(inputs, this.ctx.config.drift);
    const predictions = checkPredictions(sketch, this.baseline.prediction, this.ctx.config.predictions);
    const period = Math.max(0, ...this.baseline.columns.map((c) => (c.kind === 'categorical' && c.minSpanMs) || 0));
    if (predictions && days * DAY_MS < period) {
      predictions.comparable = false;
      predictions.reason = `the model sees calendar features and the window covers ${days} day(s) of their ${period / DAY_MS}-day period: informational only`;
    }
    return { rows: sketch.rows, drift, skipped, predictions, missing };
  }

  /** Whether a window's result says drift: inputs (dataset drift), comparable predictions, or labels. */
  static flagged(r: WindowResult, perf?: WindowPerformance): boolean {
    return r.drift.dataset_drift || Boolean(r.predictions?.comparable && r.predictions.drifted) || Boolean(perf?.target_drift?.drifted);
  }

  private closeWindow(spec: WindowSpec, b: WindowBounds, sketch: ProfileSketch): WindowResult {
    const r = this.evaluate(sketch);
    const m = this.ctx.metrics;
    const labels = { model: this.model, version: String(this.version), window: spec.name };
    m?.driftShare.set(labels, r.drift.share);
    for (const c of r.drift.columns) {
      if (c.error) continue;
      m?.driftScore.set({ ...labels, column: c.column, test: c.test }, c.score);
      m?.driftDetected.set({ ...labels, column: c.column }, c.drifted ? 1 : 0);
    }
    if (r.predictions) {
      m?.driftScore.set({ ...labels, column: 'prediction', test: r.predictions.test }, r.predictions.score);
      m?.driftDetected.set({ ...labels, column: 'prediction' }, r.predictions.drifted ? 1 : 0);
    }
    for (const rule of this.rulesFor(spec)) {
      const base = { rule: ruleName(rule), type: rule.type, severity: rule.severity, cooldownMs: rule.cooldown_ms, model: this.model, version: this.version, window: spec.name, bounds: { start: b.start, end: b.end } };
      if (rule.type === 'drift_share') {
        this.fire({ ...base, firing: r.drift.tested > 0 && r.drift.share >= rule.threshold, value: r.drift.share, limit: rule.threshold, message: `${r.drift.drifted} of ${r.drift.tested} input columns drifted (share ${r.drift.share.toFixed(2)} ≥ ${rule.threshold})` });
      } else if (rule.type === 'feature_drift') {
        const c = r.drift.columns.find((x) => x.column === rule.column);
        if (!c || c.error) continue;
        const firing = rule.threshold === undefined ? c.drifted : isDrift(c.test, c.score, rule.threshold);
        this.fire({ ...base, column: c.column, firing, value: c.score, limit: rule.threshold ?? c.threshold, message: `'${c.column}' drifted: ${c.test} ${c.score.toPrecision(4)} (threshold ${rule.threshold ?? c.threshold})` });
      } else if (rule.type === 'prediction_drift' && r.predictions?.comparable) {
        const p = r.predictions;
        this.fire({ ...base, firing: p.drifted, value: p.score, limit: p.checks[0].limit, message: `predictions drifted: ${p.test} ${p.score.toPrecision(4)}; mean ${p.mean.toFixed(4)} vs ${p.baseline.mean.toFixed(4)}` });
      }
    }
    // Labels may already be in (delayed labels for earlier rows, replays).
    this.checkWindowPerformance(spec, b);
    return r;
  }

  private rulesFor(spec: WindowSpec): AlertRule[] {
    return this.ctx.config.alerts.rules.filter((r) => !('window' in r) || r.window === undefined || r.window === spec.name);
  }

  private fire(c: Candidate): void {
    this.ctx.alerts.evaluate(c);
  }

  private rangeColumn(spec: WindowSpec): RangeColumn {
    return spec.type === 'count' ? 'seq' : spec.clock === 'event' ? 'event_ms' : 'arrival_ms';
  }

  /** Live quality of a window from the prediction log (cached until labels change). */
  performance(spec: WindowSpec, b: WindowBounds): WindowPerformance {
    const key = `${spec.name}|${b.pane}`;
    const revision = this.ctx.log.revision(this.model);
    const hit = this.perfCache.get(key);
    if (hit && hit.revision === revision) return hit.perf;
    const j = this.ctx.log.joined(this.model, this.version, this.rangeColumn(spec), b.start, b.end);
    const p = this.ctx.config.performance;
    const perf = windowPerformance(j.labels, j.outputs, performanceOptions(p, this.baseline));
    this.perfCache.set(key, { revision, perf });
    if (this.perfCache.size > 4096) this.perfCache.delete(this.perfCache.keys().next().value!);
    return perf;
  }

  /** After labels arrived: re-evaluates the closed windows that hold any of `range`'s rows. */
  labelsChanged(range: Record<RangeColumn, [number, number]>): void {
    for (const t of this.trackers) {
      const [lo, hi] = range[this.rangeColumn(t.spec)];
      for (const w of t.closed) if (w.end > lo && w.start <= hi) this.checkWindowPerformance(t.spec, w);
    }
  }

  private checkWindowPerformance(spec: WindowSpec, b: WindowBounds): void {
    const perf = this.performance(spec, b);
    if (perf.auc === null) return;
    const labels = { model: this.model, version: String(this.version), window: spec.name };
    const tracker = this.trackers.find((t) => t.spec === spec)!;
    const newest = tracker.closed.length === 0 || b.pane >= tracker.closed[tracker.closed.length - 1].pane;
    if (newest) {
      this.ctx.metrics?.liveAuc.set(labels, perf.auc);
      if (perf.accuracy !== null) this.ctx.metrics?.liveAccuracy.set(labels, perf.accuracy);
      if (perf.log_loss !== null) this.ctx.metrics?.liveLogLoss.set(labels, perf.log_loss);
      if (perf.ece !== null) this.ctx.metrics?.liveEce.set(labels, perf.ece);
    }
    for (const rule of this.rulesFor(spec)) {
      const base = { rule: ruleName(rule), type: rule.type, severity: rule.severity, cooldownMs: rule.cooldown_ms, model: this.model, version: this.version, window: spec.name, bounds: { start: b.start, end: b.end } };
      if (rule.type === 'auc_drop' && this.baseline.heldOutAuc !== undefined) {
        const limit = this.baseline.heldOutAuc - rule.max_drop;
        this.fire({ ...base, firing: perf.auc < limit, value: perf.auc, limit, message: `live AUC ${perf.auc.toFixed(4)} on ${perf.labelled} labels < held-out ${this.baseline.heldOutAuc.toFixed(4)} − ${rule.max_drop}` });
      } else if (rule.type === 'target_drift' && perf.target_drift) {
        const t = perf.target_drift;
        const effect = t.difference === undefined ? '' : ` (moved ${(100 * t.difference).toFixed(1)} points, floor ${(100 * t.min_effect!).toFixed(1)})`;
        this.fire({ ...base, firing: t.drifted, value: t.score, limit: t.threshold, message: `label share ${perf.positive_rate.toFixed(3)} vs reference ${t.reference_rate.toFixed(3)}${effect}: ${t.test} ${t.score.toPrecision(4)}` });
      }
    }
  }

  /** Latency and error-rate rules over the ops window. */
  checkOps(nowMs: number): void {
    const s = this.ops.summary(nowMs);
    for (const rule of this.ctx.config.alerts.rules) {
      const base = { rule: ruleName(rule), type: rule.type, severity: rule.severity, cooldownMs: rule.cooldown_ms, model: this.model, version: this.version };
      if (rule.type === 'latency_p99' && s.requests >= (rule.min_requests ?? 1)) {
        this.fire({ ...base, firing: s.p99_ms > rule.objective_ms, value: s.p99_ms, limit: rule.objective_ms, message: `p99 latency ${s.p99_ms.toFixed(1)} ms over ${s.requests} requests > objective ${rule.objective_ms} ms` });
      } else if (rule.type === 'error_rate' && s.requests + s.errors >= (rule.min_requests ?? 1)) {
        this.fire({ ...base, firing: s.error_rate > rule.max, value: s.error_rate, limit: rule.max, message: `error rate ${(100 * s.error_rate).toFixed(2)}% over ${s.requests + s.errors} requests > ${100 * rule.max}%` });
      }
    }
  }

  closedWindows(spec: WindowSpec): ClosedWindow<WindowResult>[] {
    return this.trackers.find((t) => t.spec === spec)?.closed ?? [];
  }
}
