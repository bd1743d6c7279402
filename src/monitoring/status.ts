/**
 * The monitoring state of a model as JSON (GET /v2/models/{m}/monitoring) and as the
 * plain data the HTML report draws: per version its baseline, every window spec with the
 * window in progress and the newest closed windows (input drift, prediction checks, live
 * quality from the prediction log), request health, and recent alerts.
 */
import { DriftReport } from './drift-report';
import type { Alert } from './alerts';
import type { MonitoringHub } from './hub';
import { WindowPerformance } from './performance';
import { ProfileSketch } from './sketch';
import { VersionMonitor, WindowResult } from './version-monitor';
import { WindowBounds, WindowSpec } from './windows';

export interface WindowView {
  start: number;
  end: number;
  /** ISO bounds for time windows. */
  from?: string;
  to?: string;
  closed: boolean;
  rows: number;
  /** Input dataset drift, comparable prediction drift, or target drift. */
  flagged: boolean;
  drift: Omit<DriftReport, 'columns'> & { columns: DriftReport['columns']; skipped: WindowResult['skipped'] };
  predictions: WindowResult['predictions'];
  performance: WindowPerformance;
  missing: Record<string, number>;
  /** Live bin counts per column (report charts; omitted from JSON unless asked). */
  sketch?: ProfileSketch;
}

export interface SpecView {
  name: string;
  type: WindowSpec['type'];
  clock: WindowSpec['clock'];
  length: number;
  step: number;
  late_rows: number;
  current: WindowView | null;
  closed: WindowView[];
}

export interface VersionView {
  version: number;
  baseline: {
    window: string;
    rows: number;
    label_rate: number | null;
    label_source: string | null;
    held_out_auc: number | null;
    threshold: number | null;
    columns: { name: string; kind: string; bins: number }[];
  };
  rows_observed: number;
  log: { rows: number; labelled: number; sample_rate: number };
  ops: ReturnType<VersionMonitor['ops']['summary']>;
  windows: SpecView[];
}

export interface StatusOptions {
  window?: string;
  /** Closed windows per spec, newest (default 30). */
  limit?: number;
  /** Keep the sketches (for the HTML report). */
  sketches?: boolean;
}

function windowView(vm: VersionMonitor, spec: WindowSpec, b: WindowBounds, sketch: ProfileSketch, r: WindowResult, closed: boolean, keepSketch: boolean): WindowView {
  const performance = vm.performance(spec, b);
  const time = spec.type === 'time';
  return {
    start: b.start,
    end: b.end,
    ...(time ? { from: new Date(b.start).toISOString(), to: new Date(b.end).toISOString() } : {}),
    closed,
    rows: r.rows,
    flagged: VersionMonitor.flagged(r, performance),
    drift: { ...r.drift, skipped: r.skipped },
    predictions: r.predictions,
    performance,
    missing: r.missing,
    ...(keepSketch ? { sketch } : {}),
  };
}

export function versionView(hub: MonitoringHub, vm: VersionMonitor, o: StatusOptions = {}): VersionView {
  const b = vm.baseline;
  const counts = hub.log.count(vm.model, vm.version);
  const windows: SpecView[] = [];
  for (const t of vm.trackers) {
    if (o.window !== undefined && t.spec.name !== o.window) continue;
    const cur = t.current();
    const closed = t.closed.slice(-(o.limit ?? 30));
    windows.push({
      name: t.spec.name, type: t.spec.type, clock: t.spec.clock, length: t.spec.length, step: t.spec.step, late_rows: t.late,
      current: cur && cur.sketch.rows > 0 ? windowView(vm, t.spec, cur, cur.sketch, vm.evaluate(cur.sketch), false, Boolean(o.sketches)) : null,
      closed: closed.map((w) => windowView(vm, t.spec, w, w.sketch, w.result, true, Boolean(o.sketches))),
    });
  }
  return {
    version: vm.version,
    baseline: {
      window: b.window, rows: b.rows,
      label_rate: b.label?.positiveRate ?? null, label_source: b.label?.source ?? null,
      held_out_auc: b.heldOutAuc ?? null, threshold: b.threshold ?? null,
      columns: b.columns.map((c) => ({ name: c.name, kind: c.kind, bins: c.counts.length })),
    },
    rows_observed: vm.seq,
    log: { rows: counts.rows, labelled: counts.labelled, sample_rate: hub.log.sampleRate },
    ops: vm.ops.summary(hub.now()),
    windows,
  };
}

/** A model's status, for the versions asked (each with a baseline gets a view; the others are listed). */
export function modelStatus(hub: MonitoringHub, model: string, versions: number[], alerts: Alert[], o: StatusOptions = {}): ModelStatus {
  const monitors = versions.map((v) => hub.monitor(model, v));
  return {
    model,
    versions: monitors.flatMap((m) => (m ? [versionView(hub, m, o)] : [])),
    unmonitored_versions: versions.filter((_, i) => !monitors[i]),
    alerts,
  };
}

export interface ModelStatus {
  model: string;
  versions: VersionView[];
  /** Serving versions without a baseline (card.json profile): request health only. */
  unmonitored_versions: number[];
  alerts: Alert[];
}

/** JSON-safe numbers: NaN and ±Infinity become null. */
export function toJson(status: ModelStatus): string {
  return JSON.stringify(status, (k, v) => (k === 'sketch' ? undefined : typeof v === 'number' && !Number.isFinite(v) ? null : v));
}
