/**
 * MonitoringHub: the one object the serving paths talk to.
 *   hub.observe(model, version, { rows | columns, predictions, ids, latencyMs })   // per request
 *   hub.observeError(model, version)                                               // per failed request
 *   hub.feedback(model, [{ id, label }])                                           // delayed ground truth
 * observe() only queues (O(1), bounded: rows beyond queue.max_rows are dropped and
 * counted); the queue is profiled on setImmediate, in batches, off the request path.
 * Versions without a card.json baseline get request health (latency, errors) only.
 * The server runs it on the monitoring thread (thread/hub-thread.ts), off the event loop.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../config/logger';
import { InferaError } from '../errors';
import { AlertManager, AlertSink } from './alerts';
import { Baseline, loadBaseline } from './baseline';
import { MonitoringConfig, resolveConfig } from './config';
import { Observation } from './encoder';
import { createMonitoringMetrics, MonitoringMetrics } from './metrics';
import { OpsWindow } from './ops';
import { LoggedPrediction, PredictionLog } from './prediction-log';
import { LogSink, WebhookSink } from './sinks';
import { VersionMonitor } from './version-monitor';

export interface HubOptions {
  /** Model repository root: baselines are read from <model>/<version>/card.json. */
  repository: string;
  config?: MonitoringConfig;
  registry?: Registry;
  log?: Logger;
  now?: () => number;
  /** Replaces the card.json lookup (e.g. a baseline built offline). */
  baselineFor?: (model: string, version: number) => Baseline | null;
  /** Extra sinks (besides the log and the configured webhook). */
  sinks?: AlertSink[];
  /** The log shared by every replica (--database-url): the embedded log is copied there, and labels flow both ways. */
  shared?: SharedLogLink;
}

/** What the hub needs of the shared log: the log itself, or (on the monitoring thread) a link to it. */
export interface SharedLogLink {
  addPredictions(rows: LoggedPrediction[]): void;
  /** Stores labels for every replica's predictions; the ids known there, or null when the database is down. */
  addLabels(model: string, items: FeedbackItem[], nowMs: number): Promise<number | null>;
  /** Set by the hub: labels pulled from the other replicas. */
  onLabels?: (model: string, items: FeedbackItem[]) => void;
  close(): Promise<void>;
}

/** Rows profiled per event-loop turn (~10 ms of work). */
const FLUSH_ROWS_PER_TICK = 20_000;
/**
 * Sampled predictions are written to the log in batches: a batch is written when it reaches
 * LOG_BATCH_ROWS rows or is LOG_BATCH_MS old, and always before anything reads the log (full
 * flush, close). Each write is followed by a bounded retain() (about what the write added).
 * On the event loop the batches had to be small (64 rows / 5 ms: a 1,024-row write held the
 * loop ~4 ms); on the monitoring thread nothing waits on them, and at 1,881 one-row /predict a
 * second the 5 ms batches cost the thread 0.56 s of CPU per 10 s in transactions and
 * retains alone (profiled), so they are large.
 */
const LOG_BATCH_ROWS = 1024;
const LOG_BATCH_MS = 100;

interface Queued {
  model: string;
  version: number;
  obs: Observation;
  arrivalMs: number;
  error?: boolean;
}

export interface FeedbackItem {
  id: string;
  label: number;
}

export interface FeedbackResult {
  /** Ids whose prediction is known: in the shared log when there is one, else in this replica's log. */
  matched: number;
  unknown: string[];
  /** With a shared log: 'stored' (written, they join whenever their predictions arrive) or 'buffered' (database down). */
  shared?: 'stored' | 'buffered';
}

export class MonitoringHub {
  readonly config: MonitoringConfig;
  readonly log: PredictionLog;
  readonly shared?: SharedLogLink;
  readonly alerts: AlertManager;
  readonly metrics?: MonitoringMetrics;
  private readonly monitors = new Map<string, VersionMonitor | null>();
  private readonly opsOnly = new Map<string, OpsWindow>();
  private queue: Queued[] = [];
  private pendingLog: LoggedPrediction[] = [];
  private logTimer: NodeJS.Timeout | null = null;
  private queuedRows = 0;
  private scheduled = false;
  private lastOpsCheck = 0;
  readonly now: () => number;
  private closed = false;

  constructor(private readonly opts: HubOptions) {
    this.config = opts.config ?? resolveConfig();
    this.now = opts.now ?? Date.now;
    this.metrics = opts.registry ? createMonitoringMetrics(opts.registry) : undefined;
    this.log = new PredictionLog(this.config.log);
    this.shared = opts.shared;
    if (this.shared) this.shared.onLabels = (model, items) => this.applyLabels(model, items);
    this.alerts = createAlertManager(this.config, { sinks: opts.sinks, log: opts.log, metrics: this.metrics, now: this.now });
  }

  /** Queues one request's rows and predictions. Never throws, never blocks. */
  observe(model: string, version: number | string, obs: Observation): void {
    if (this.closed) return;
    const n = obs.predictions.length;
    const v = Number(version);
    if (this.queuedRows + n > this.config.queue.max_rows) {
      this.metrics?.droppedRows.inc({ model, version: String(v), reason: 'queue_full' }, n);
      return;
    }
    this.queuedRows += n;
    this.queue.push({ model, version: v, obs, arrivalMs: this.now() });
    this.schedule();
  }

  /** Counts a failed request (error-rate rule). */
  observeError(model: string, version: number | string): void {
    if (this.closed) return;
    this.queue.push({ model, version: Number(version), obs: { predictions: [] }, arrivalMs: this.now(), error: true });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      try {
        // A bounded slice per tick, so a backlog never holds the event loop for long.
        this.flush(FLUSH_ROWS_PER_TICK);
      } catch (e) {
        this.opts.log?.error({ err: (e as Error).message }, 'monitoring flush failed');
      }
      if (this.queue.length) this.schedule();
    });
  }

  /** The version's monitor; null when it has no baseline (request health only). */
  monitor(model: string, version: number): VersionMonitor | null {
    const key = `${model}\u0000${version}`;
    if (!this.monitors.has(key)) {
      let baseline: Baseline | null = null;
      try {
        baseline = this.opts.baselineFor ? this.opts.baselineFor(model, version) : loadBaseline(this.opts.repository, model, version);
      } catch (e) {
        this.opts.log?.warn({ model, version, err: (e as Error).message }, 'monitoring: unusable baseline; request health only');
      }
      this.monitors.set(key, baseline ? new VersionMonitor(model, version, baseline, { config: this.config, log: this.log, alerts: this.alerts, metrics: this.metrics, now: this.now }) : null);
    }
    return this.monitors.get(key)!;
  }

  private opsFor(model: string, version: number): OpsWindow {
    const m = this.monitor(model, version);
    if (m) return m.ops;
    const key = `${model}\u0000${version}`;
    let o = this.opsOnly.get(key);
    if (!o) this.opsOnly.set(key, (o = new OpsWindow(this.config.ops_window_ms)));
    return o;
  }

  /** Profiles the queue, oldest first, up to about maxRows rows (all by default; feedback and status reads flush all). */
  flush(maxRows = Infinity): void {
    let take = 0;
    let rows = 0;
    while (take < this.queue.length && rows < maxRows) rows += this.queue[take++].obs.predictions.length;
    const batch = this.queue.splice(0, take);
    this.queuedRows -= rows;
    for (const q of batch) {
      const labels = { model: q.model, version: String(q.version) };
      if (q.error) {
        this.opsFor(q.model, q.version).error(q.arrivalMs);
        continue;
      }
      const m = this.monitor(q.model, q.version);
      if (!m) {
        if (q.obs.latencyMs !== undefined) this.opsFor(q.model, q.version).request(q.arrivalMs, q.obs.latencyMs);
        continue;
      }
      let e;
      try {
        e = m.encoder.encode(q.obs);
      } catch (err) {
        this.metrics?.droppedRows.inc({ ...labels, reason: 'invalid' }, q.obs.predictions.length);
        this.opts.log?.warn({ ...labels, err: (err as Error).message }, 'monitoring: observation dropped');
        continue;
      }
      const seq0 = m.ingest(e, q.arrivalMs, q.obs.latencyMs);
      this.metrics?.observedRows.inc(labels, e.rows);
      const ids = q.obs.ids;
      if (!ids) continue;
      for (let r = 0; r < e.rows; r++) {
        const id = ids[r];
        if (!id || !this.log.sampled(id)) continue;
        this.pendingLog.push({
          model: q.model, version: q.version, id, seq: seq0 + r, arrivalMs: q.arrivalMs,
          eventMs: Number.isFinite(e.eventMs[r]) ? e.eventMs[r] : null,
          inputs: this.log.storeInputs && q.obs.rows ? JSON.stringify(q.obs.rows[r]) : null,
          output: e.predictions[r],
        });
      }
    }
    if (maxRows === Infinity || this.pendingLog.length >= LOG_BATCH_ROWS) this.writeLog();
    else if (this.pendingLog.length > 0 && !this.logTimer) {
      this.logTimer = setTimeout(() => {
        try {
          this.writeLog();
        } catch (e) {
          this.opts.log?.error({ err: (e as Error).message }, 'monitoring: prediction log write failed');
        }
      }, LOG_BATCH_MS);
      this.logTimer.unref();
    }
    const now = this.now();
    if (now - this.lastOpsCheck >= 1000) this.checkOps();
  }

  /** Writes the sampled predictions waiting for the log, in one transaction. */
  private writeLog(): void {
    if (this.logTimer) {
      clearTimeout(this.logTimer);
      this.logTimer = null;
    }
    if (this.pendingLog.length === 0) return;
    const rows = this.pendingLog;
    this.pendingLog = [];
    this.log.insertMany(rows);
    // Bounded: deletes about what this write added once the log is full (see retain()).
    this.log.retain(this.now());
    this.shared?.addPredictions(rows);
  }

  /** Evaluates the latency and error-rate rules now (flush does, at most once a second). */
  checkOps(): void {
    const now = this.now();
    this.lastOpsCheck = now;
    for (const m of this.monitors.values()) m?.checkOps(now);
  }

  /**
   * Joins delayed labels to logged predictions and re-checks the affected windows. With a
   * shared log the labels are stored there too, for every replica's predictions.
   * @throws InferaError ENG_ERR_BAD_REQUEST (nothing applied) when an item is invalid.
   */
  async feedback(model: string, items: { id: unknown; label: unknown }[], labelNames?: [string, string]): Promise<FeedbackResult> {
    const parsed: FeedbackItem[] = items.map((it, i) => {
      if (typeof it?.id !== 'string' || it.id === '') throw new InferaError('ENG_ERR_BAD_REQUEST', `items.${i}.id must be a non-empty string`);
      return { id: it.id, label: parseLabel(it.label, i, labelNames) };
    });
    const local = this.applyLabels(model, parsed);
    if (!this.shared) {
      this.metrics?.feedback.inc({ model, outcome: 'matched' }, local.matched);
      if (local.unknown.length) this.metrics?.feedback.inc({ model, outcome: 'unknown' }, local.unknown.length);
      return local;
    }
    const known = await this.shared.addLabels(model, parsed, this.now());
    if (known === null) {
      // Database down: the labels wait in the outbox; this replica's own predictions joined already.
      this.metrics?.feedback.inc({ model, outcome: 'buffered' }, parsed.length);
      return { ...local, shared: 'buffered' };
    }
    const distinct = new Set(parsed.map((p) => p.id)).size;
    this.metrics?.feedback.inc({ model, outcome: 'matched' }, known);
    if (distinct > known) this.metrics?.feedback.inc({ model, outcome: 'unknown' }, distinct - known);
    // Which ids are unknown across replicas is not worth a second query: report this replica's guess, capped.
    return { matched: known, unknown: distinct > known ? local.unknown.slice(0, distinct - known) : [], shared: 'stored' };
  }

  /** Applies labels to this replica's log (its own predictions) and re-checks the affected windows. */
  applyLabels(model: string, items: FeedbackItem[]): { matched: number; unknown: string[] } {
    this.flush();
    const r = this.log.setLabels(model, items, this.now());
    for (const [version, range] of r.ranges) this.monitor(model, version)?.labelsChanged(range);
    return { matched: r.matched, unknown: r.unknown };
  }

  /** Monitors of a model's versions that have a baseline. */
  versionsOf(model: string): VersionMonitor[] {
    return [...this.monitors.values()].filter((m): m is VersionMonitor => m !== null && m.model === model).sort((a, b) => a.version - b.version);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await this.alerts.idle();
    await this.shared?.close();
    this.log.close();
  }
}

/** The alert manager a monitoring config describes: cooldown, the log sink, the webhook sink, and any extra sinks. */
export function createAlertManager(config: MonitoringConfig, o: { sinks?: AlertSink[]; log?: Logger; metrics?: MonitoringMetrics; now?: () => number }): AlertManager {
  const sinks: AlertSink[] = [...(o.sinks ?? [])];
  if (config.alerts.log && o.log) sinks.push(new LogSink(o.log));
  if (config.alerts.webhook) sinks.push(new WebhookSink(config.alerts.webhook, o.metrics));
  return new AlertManager({
    cooldownMs: config.alerts.cooldown_ms, sinks, metrics: o.metrics, now: o.now,
    onSinkError: (sink, alert, e) => o.log?.error({ sink, alert: alert.id, err: (e as Error).message }, 'alert delivery failed'),
  });
}

/** 0/1, booleans, or one of the card's label names ([negative, positive]). */
function parseLabel(v: unknown, i: number, names?: [string, string]): number {
  if (v === 0 || v === 1) return v;
  if (v === true || v === false) return v ? 1 : 0;
  if (typeof v === 'string' && names) {
    const k = names.indexOf(v);
    if (k >= 0) return k;
  }
  const allowed = names ? `0, 1, true, false, '${names[0]}' or '${names[1]}'` : '0, 1, true or false';
  throw new InferaError('ENG_ERR_BAD_REQUEST', `items.${i}.label must be ${allowed}, got ${JSON.stringify(v)}`);
}
