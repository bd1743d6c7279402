/**
 * The monitoring thread: runs the MonitoringHub (per-row profiling, window closes with their
 * drift tests and live quality, the SQLite prediction log) off the serving event loop.
 * The main thread's HubThread (./hub-thread.ts) feeds it observations and asks it questions;
 * this side answers, and sends back the alerts it decides, its log lines, and (with a shared
 * database) the predictions it logged. Started only by HubThread.
 */
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { Registry } from 'prom-client';
import type { Logger } from '../../config/logger';
import type { MonitoringConfig } from '../config';
import type { Observation } from '../encoder';
import { FeedbackItem, MonitoringHub } from '../hub';
import { performanceOptions, windowPerformance } from '../performance';
import type { LoggedPrediction, RangeColumn } from '../prediction-log';
import { renderReport } from '../report';
import { ModelStatus, modelStatus, StatusOptions } from '../status';
import { setThreadPolicy } from '../../native/binding';
import { ThreadChannel } from './channel';

export interface MonitoringThreadData {
  repository: string;
  config: MonitoringConfig;
  /** Whether a shared (PostgreSQL) log is on the main thread. */
  shared: boolean;
  /** [0]: observation rows this thread has taken from its port (the main thread bounds what is in transit). */
  received: SharedArrayBuffer;
}

/** One observation as the main thread queues it: error marks a failed request. */
export interface ThreadObservation {
  model: string;
  version: number;
  obs: Observation;
  arrivalMs: number;
  error?: boolean;
}

const data = workerData as MonitoringThreadData;
// Serving first: the thread runs at SCHED_IDLE, on CPU time the event loop leaves, and a
// request that wakes the loop takes the core back at once (at nice 10 without SCHED_IDLE the
// kernel let it finish its slice first: p99 at 30 % load 3.1–3.7 ms against 1.6–1.7 without
// the thread, bench/README.md). Idle time may never come under overload, and the rollout
// controller, the status, feedback and management routes wait for this thread's answers, so
// the main thread raises it to SCHED_OTHER (at nice 10) while an answer is overdue. That
// needs the right to raise a priority (CAP_SYS_NICE, or RLIMIT_NICE ≥ 11): without it the
// thread stays at nice 10. Rows it cannot keep up with are dropped and counted at the queue
// bound (infera_monitoring_dropped_rows_total{reason="queue_full"}), never the requests.
const NICE = 10;
const priority = ((): { tid: number | null; idle: boolean; reason?: string } => {
  let tid: number | null = null;
  try {
    os.setPriority(NICE); // Linux: this thread only (setpriority on the calling thread's id)
    tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop()); // "<pid>/task/<tid>"
  } catch (e) {
    return { tid, idle: false, reason: (e as Error).message };
  }
  try {
    // Leaving SCHED_IDLE needs what raising the nice value needs: try one step and go back.
    os.setPriority(NICE - 1);
    os.setPriority(NICE);
  } catch {
    return { tid, idle: false, reason: 'raising a thread priority is not permitted (CAP_SYS_NICE or RLIMIT_NICE)' };
  }
  const r = setThreadPolicy(tid, true);
  return r.ok ? { tid, idle: true } : { tid, idle: false, reason: r.reason };
})();
const received = new Int32Array(data.received);
const registry = new Registry();

const channel = new ThreadChannel(parentPort!, (method, args) => handle(method, args));

/** Log lines go to the main thread's logger (one log stream per server). */
const log = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) => [
  level, (obj: unknown, msg?: string) => channel.notify('log', level, obj, msg),
])) as unknown as Logger;

// Rules are decided here (dedup, cooldown, their metrics); the main thread keeps the history
// and sends to the sinks (log, webhook, retraining), so this hub has one sink: the way there.
const config: MonitoringConfig = { ...data.config, alerts: { ...data.config.alerts, log: false, webhook: undefined } };
const hub = new MonitoringHub({
  repository: data.repository, config, registry, log,
  sinks: [{ name: 'main-thread', send: async (alert) => channel.notify('alert', alert) }],
  shared: data.shared ? {
    addPredictions: (rows: LoggedPrediction[]) => channel.notify('logged', rows),
    addLabels: (model: string, items: FeedbackItem[], nowMs: number) => channel.call<number | null>('addLabels', model, items, nowMs),
    close: async () => undefined,
  } : undefined,
});

if (!priority.idle) log.warn({ reason: priority.reason }, `the monitoring thread runs at nice ${NICE}, not SCHED_IDLE: a request may wait for its time slice`);
// The main thread raises this thread while it awaits an answer (only where it can be lowered again).
if (priority.idle) channel.notify('threadId', priority.tid);

function handle(method: string, args: unknown[]): unknown {
  if (method === 'observe') {
    const batch = args[0] as ThreadObservation[];
    Atomics.add(received, 0, batch.reduce((n, q) => n + q.obs.predictions.length, 0));
    for (const q of batch) {
      if (q.error) hub.observeError(q.model, q.version);
      else hub.observe(q.model, q.version, q.obs);
    }
    return undefined;
  }
  // Every question sees every observation sent before it (one port, in order), except the
  // rollout controller's log reads: they read what the log holds, and must answer promptly.
  if (method !== 'joined' && method !== 'paired' && method !== 'metrics') hub.flush();
  switch (method) {
    case 'flush':
      return undefined;
    case 'status': {
      const [model, versions, o] = args as [string, number[], StatusOptions];
      return modelStatus(hub, model, versions, [], o);
    }
    case 'report': {
      const [model, versions, alertsOf, o] = args as [string, number[], ModelStatus['alerts'], StatusOptions];
      const st = modelStatus(hub, model, versions, alertsOf, o);
      return renderReport(st, (v) => {
        const m = hub.monitor(model, v);
        return m ? { columns: m.baseline.columns, prediction: m.baseline.prediction } : undefined;
      });
    }
    case 'feedback': {
      const [model, versions, items] = args as [string, number[], { id: unknown; label: unknown }[]];
      const names = versions.map((v) => hub.monitor(model, v)?.baseline.label?.names).find(Boolean);
      return hub.feedback(model, items, names);
    }
    case 'applyLabels': {
      const [model, items] = args as [string, FeedbackItem[]];
      return hub.applyLabels(model, items);
    }
    case 'quality': {
      // Rows from the shared database when the main thread has them, else this log's.
      const [model, version, start, end, rows] = args as [string, number, number, number, { labels: Float64Array; outputs: Float64Array } | null];
      const r = rows ?? hub.log.joined(model, version, 'arrival_ms', start, end);
      const baseline = hub.monitor(model, version)?.baseline;
      return windowPerformance(r.labels, r.outputs, performanceOptions(hub.config.performance, baseline ?? {}));
    }
    case 'joined': {
      const [model, version, column, start, end] = args as [string, number, RangeColumn, number, number];
      return hub.log.joined(model, version, column, start, end);
    }
    case 'paired': {
      const [model, stable, candidate, sinceMs] = args as [string, number, number, number];
      return hub.log.paired(model, stable, candidate, sinceMs);
    }
    case 'count': {
      const [model, version] = args as [string | undefined, number | undefined];
      return hub.log.count(model, version);
    }
    case 'metrics':
      return registry.getMetricsAsJSON();
    case 'close':
      return hub.close();
    default:
      throw new Error(`monitoring thread: no method '${method}'`);
  }
}
