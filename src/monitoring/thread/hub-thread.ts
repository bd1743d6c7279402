/**
 * Model monitoring on its own thread. The serving paths call observe() / observeError(): O(1),
 * never blocking — the observation is queued here and sent to the monitoring thread
 * (./entry.ts) in batches, every SEND_MS (20 ms) or SEND_ROWS rows. Everything per row — binning
 * against the baseline, window sketches, the drift tests and live quality when a window
 * closes, the SQLite prediction log — runs there, so none of it holds the event loop
 * (issue 12: at 2.3k one-row /predict a second, that work was the difference between the
 * naive peer's p99 and ours; bench/README.md).
 *
 * The main thread keeps what must be here: the alert history and sinks (log, webhook, the
 * retraining trigger; rules are decided on the thread), the shared PostgreSQL log (the
 * thread sends it what it logged, and labels pulled from it go back), and the rollout
 * controller's per-request counters (onObserved). Every question is asked after the
 * observations queued before it; status, report, feedback, quality and count wait until the
 * thread has profiled them, the rollout's log reads and the metrics answer from what it holds.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Gauge, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import type { Logger } from '../../config/logger';
import { ErrorCodes, InferaError } from '../../errors';
import { setThreadPolicy } from '../../native/binding';
import { Alert, AlertManager } from '../alerts';
import { MonitoringConfig, resolveConfig } from '../config';
import type { Observation } from '../encoder';
import { createAlertManager, FeedbackItem, FeedbackResult } from '../hub';
import { createMonitoringMetrics, MonitoringMetrics } from '../metrics';
import type { WindowPerformance } from '../performance';
import type { Joined, LoggedPrediction, RangeColumn } from '../prediction-log';
import type { SharedPredictionLog } from '../shared-log';
import type { ModelStatus, StatusOptions } from '../status';
import { ThreadChannel } from './channel';
import type { MonitoringThreadData, ThreadObservation } from './entry';

/**
 * Observations are sent at most SEND_MS after they were queued, or at SEND_ROWS rows: at light
 * load one message per 20 ms instead of one per request. A send after the loop sat idle costs
 * ~45 µs on this project's 2-core VM (cold caches; 2 µs when warm, measured), so fewer is better;
 * 20 ms of rows (a few hundred small objects at most) stay young on the main heap.
 */
const SEND_MS = 20;
/**
 * Under load the rows bound sends: one clone of 512 observations held the loop long enough to
 * show in the p99 (at 11.5k req/s, 30 % of runs interleaved: 4.4–33.6 ms against 2.6–7.1 ms
 * with 64; bench/README.md). A warm send costs ~2 µs, so small sends are cheap.
 */
const SEND_ROWS = 64;
/**
 * An answer awaited longer than this raises the thread from SCHED_IDLE to SCHED_OTHER until
 * every awaited answer came: under overload idle time never comes (a deployment change's
 * answer waited over 5 s at 70 % load), while most answers take a millisecond.
 */
const RAISE_AFTER_MS = 10;
/** A thread that dies sooner than this after its start is not started again. */
const MIN_LIFETIME_MS = 10_000;

export interface HubThreadOptions {
  /** Model repository root: baselines are read from <model>/<version>/card.json. */
  repository: string;
  config?: MonitoringConfig;
  /** The server's registry: alert delivery and rows dropped before the thread are counted here. */
  registry?: Registry;
  log?: Logger;
  /** The log shared by every replica (--database-url). */
  shared?: SharedPredictionLog;
}

export class HubThread {
  readonly config: MonitoringConfig;
  readonly alerts: AlertManager;
  readonly shared?: SharedPredictionLog;
  private readonly metrics?: MonitoringMetrics;
  /** Sees every observation as it is queued (the rollout controller): predictions, or null for an error. */
  onObserved?: (model: string, version: number, predictions: ArrayLike<number> | null, latencyMs?: number) => void;
  private worker!: Worker;
  private channel!: ThreadChannel;
  private startedAt = 0;
  private readonly received = new Int32Array(new SharedArrayBuffer(4));
  /** Rows sent (int32, wrapping like the thread's counter). */
  private sentRows = 0;
  private queue: ThreadObservation[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private dead: string | null = null;
  /** The thread's Linux id, once it runs at SCHED_IDLE (it says so); null otherwise. */
  private threadId: number | null = null;
  private awaiting = 0;
  private raiseTimer: NodeJS.Timeout | null = null;
  private raised = false;

  constructor(private readonly opts: HubThreadOptions) {
    this.config = opts.config ?? resolveConfig();
    this.metrics = opts.registry ? createMonitoringMetrics(opts.registry) : undefined;
    if (opts.registry) {
      // Monitoring lags under overload by design (the thread runs on idle time): say by how much, and at which priority.
      const hub = this;
      const registers = [opts.registry];
      new Gauge({
        name: 'infera_monitoring_backlog_rows', help: 'Observed rows the monitoring thread has not taken yet (queued here, or sent and not read).',
        registers, aggregator: 'sum',
        collect() {
          this.set(hub.backlogRows());
        },
      });
      new Gauge({
        name: 'infera_monitoring_thread_idle_priority', help: '1 when the monitoring thread runs at SCHED_IDLE (raised only while an answer is overdue), 0 when at nice 10 (no permission to raise it again).',
        registers, aggregator: 'min',
        collect() {
          this.set(hub.threadId === null ? 0 : 1);
        },
      });
    }
    this.shared = opts.shared;
    if (this.shared) this.shared.onLabels = (model, items) => this.notify('applyLabels', model, items);
    this.alerts = createAlertManager(this.config, { log: opts.log, metrics: this.metrics });
    this.start();
  }

  private start(): void {
    const data: MonitoringThreadData = { repository: this.opts.repository, config: this.config, shared: Boolean(this.shared), received: this.received.buffer as SharedArrayBuffer };
    this.worker = new Worker(path.join(__dirname, 'entry.js'), { workerData: data });
    this.startedAt = Date.now();
    this.threadId = null;
    this.raised = false;
    // A forgotten server must not keep the process alive for its monitoring.
    this.worker.unref();
    this.channel = new ThreadChannel(this.worker, (method, args) => this.fromThread(method, args));
    this.worker.on('error', (e) => this.opts.log?.error({ err: e.message }, 'monitoring thread failed'));
    this.worker.on('exit', (code) => {
      if (this.closed) return;
      this.channel.fail(`the monitoring thread exited (code ${code})`);
      Atomics.store(this.received, 0, this.sentRows);
      if (Date.now() - this.startedAt < MIN_LIFETIME_MS) {
        this.dead = `the monitoring thread exited (code ${code}) within ${MIN_LIFETIME_MS / 1000} s of its start; monitoring is off until the server restarts`;
        this.opts.log?.error({ code }, this.dead);
        return;
      }
      this.opts.log?.error({ code }, 'the monitoring thread exited; starting a new one (its windows and embedded log are lost)');
      this.start();
    });
  }

  /** What the thread sends: alerts it decided, log lines, rows for the shared log, labels to store there. */
  private fromThread(method: string, args: unknown[]): unknown {
    switch (method) {
      case 'threadId':
        this.threadId = args[0] as number;
        return undefined;
      case 'alert':
        return this.alerts.deliver(args[0] as Alert);
      case 'log': {
        const [level, obj, msg] = args as ['warn', object, string];
        return this.opts.log?.[level]?.(obj, msg);
      }
      case 'logged':
        return this.shared?.addPredictions(args[0] as LoggedPrediction[]);
      case 'addLabels': {
        const [model, items, nowMs] = args as [string, FeedbackItem[], number];
        return this.shared ? this.shared.addLabels(model, items, nowMs) : null;
      }
      default:
        throw new Error(`main thread: no method '${method}'`);
    }
  }

  /** Rows queued here or sent and not yet read by the thread. */
  private backlogRows(): number {
    return this.queuedRows + ((this.sentRows - Atomics.load(this.received, 0)) | 0);
  }

  /** Queues one request's rows and predictions. Never throws, never blocks. */
  observe(model: string, version: number | string, obs: Observation): void {
    if (this.closed) return;
    const v = Number(version);
    this.onObserved?.(model, v, obs.predictions, obs.latencyMs);
    this.enqueue({ model, version: v, obs, arrivalMs: Date.now() }, obs.predictions.length);
  }

  /** Counts a failed request (error-rate rule). */
  observeError(model: string, version: number | string): void {
    if (this.closed) return;
    const v = Number(version);
    this.onObserved?.(model, v, null);
    this.enqueue({ model, version: v, obs: { predictions: [] }, arrivalMs: Date.now(), error: true }, 0);
  }

  private enqueue(q: ThreadObservation, rows: number): void {
    // Bounded: rows queued here or in transit to the thread (its own queue bound applies there).
    if (this.dead || this.backlogRows() + rows > this.config.queue.max_rows) {
      if (rows > 0) this.metrics?.droppedRows.inc({ model: q.model, version: String(q.version), reason: this.dead ? 'thread_down' : 'queue_full' }, rows);
      return;
    }
    this.queue.push(q);
    this.queuedRows += rows;
    if (this.queuedRows >= SEND_ROWS) this.send();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.send(), SEND_MS);
      this.timer.unref();
    }
  }

  /** Sends the queued observations to the thread. */
  private send(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.queue.length === 0) return;
    const batch = this.queue;
    const rows = this.queuedRows;
    this.queue = [];
    this.queuedRows = 0;
    try {
      this.channel.notify('observe', batch);
      this.sentRows = (this.sentRows + rows) | 0;
    } catch (e) {
      // A value that cannot be cloned (never a JSON body's): the batch is dropped and said so.
      for (const q of batch) this.metrics?.droppedRows.inc({ model: q.model, version: String(q.version), reason: 'invalid' }, q.obs.predictions.length);
      this.opts.log?.warn({ err: (e as Error).message }, 'monitoring: observations dropped');
    }
  }

  private notify(method: string, ...args: unknown[]): void {
    if (this.dead) return;
    this.send();
    this.channel.notify(method, ...args);
  }

  /** Asks the thread, after everything queued so far; its InferaErrors come back as such. */
  private async call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.dead) throw new InferaError('ENG_ERR_MODEL_UNAVAILABLE', this.dead);
    this.send();
    this.awaiting++;
    if (this.threadId !== null && !this.raised && !this.raiseTimer) {
      this.raiseTimer = setTimeout(() => this.setRaised(true), RAISE_AFTER_MS);
      this.raiseTimer.unref();
    }
    try {
      return await this.channel.call<T>(method, ...args);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code && code in ErrorCodes) {
        const err = new InferaError(code as keyof typeof ErrorCodes);
        err.message = (e as Error).message;
        throw err;
      }
      throw e;
    } finally {
      if (--this.awaiting === 0) this.setRaised(false);
    }
  }

  /** SCHED_OTHER while answers are overdue, SCHED_IDLE again once none is awaited. */
  private setRaised(raised: boolean): void {
    if (this.raiseTimer) {
      clearTimeout(this.raiseTimer);
      this.raiseTimer = null;
    }
    if (this.threadId === null || this.raised === raised) return;
    const r = setThreadPolicy(this.threadId, !raised);
    if (r.ok) this.raised = raised;
    else this.opts.log?.warn({ reason: r.reason }, 'monitoring thread: its scheduling class could not be changed');
  }

  /** Resolves once the thread has profiled everything observed so far. */
  flush(): Promise<void> {
    return this.call('flush');
  }

  /** The monitoring state of a model's versions (GET /v2/models/{m}/monitoring). */
  async status(model: string, versions: number[], o: StatusOptions = {}): Promise<ModelStatus> {
    const st = await this.call<ModelStatus>('status', model, versions, o);
    return { ...st, alerts: this.alerts.recent(model).slice(-50) };
  }

  /** The HTML report of a model (GET /v2/models/{m}/monitoring/report). */
  report(model: string, versions: number[], o: StatusOptions = {}): Promise<string> {
    return this.call('report', model, versions, this.alerts.recent(model).slice(-50), o);
  }

  /**
   * Joins delayed labels to logged predictions (label names from the versions' baselines).
   * @throws InferaError ENG_ERR_BAD_REQUEST (nothing applied) when an item is invalid.
   */
  feedback(model: string, versions: number[], items: { id: unknown; label: unknown }[]): Promise<FeedbackResult> {
    return this.call('feedback', model, versions, items);
  }

  /** Live quality of a version's labelled predictions: these rows (the shared log's), or the embedded log's in [start, end). */
  quality(model: string, version: number, start: number, end: number, rows: { labels: Float64Array; outputs: Float64Array } | null): Promise<WindowPerformance> {
    return this.call('quality', model, version, start, end, rows);
  }

  /** Labelled predictions of a version in the embedded log now (see PredictionLog.joined; no flush). */
  joined(model: string, version: number, column: RangeColumn, start: number, end: number): Promise<Joined> {
    return this.call('joined', model, version, column, start, end);
  }

  /** The requests two versions both answered, in the log now (see PredictionLog.paired; no flush). */
  paired(model: string, stable: number, candidate: number, sinceMs: number): Promise<{ stable: Float64Array; candidate: Float64Array; labels: Float64Array }> {
    return this.call('paired', model, stable, candidate, sinceMs);
  }

  /** Rows and labelled rows in the embedded log. */
  count(model?: string, version?: number): Promise<{ rows: number; labelled: number }> {
    return this.call('count', model, version);
  }

  /** The thread's metrics (prom-client JSON), to merge with the server's registry. */
  metricsJson(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return this.dead ? Promise.resolve([]) : this.call('metrics');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.dead) {
      try {
        await this.call('close');
      } catch (e) {
        this.opts.log?.warn({ err: (e as Error).message }, 'monitoring thread: close failed');
      }
    }
    this.closed = true;
    await this.worker.terminate();
    await this.alerts.idle();
    await this.shared?.close();
  }
}
