/**
 * Alert decisions: a rule's evaluation becomes an alert sent to every sink, unless
 *  - dedup: the same rule already fired for the same window (a window's performance is
 *    re-evaluated as labels arrive; it alerts once), or
 *  - cooldown: the same rule fired for the same model version and column less than
 *    cooldown_ms ago (a storm of windows alerts once per cooldown; the rest are counted).
 * Sends never block evaluation; idle() waits for them (tests, shutdown).
 */
import crypto from 'node:crypto';
import type { MonitoringMetrics } from './metrics';

export interface Alert {
  id: string;
  rule: string;
  type: string;
  severity: 'warning' | 'critical';
  model: string;
  version: number;
  window?: string;
  /** The window's bounds ([start, end): ms or row numbers). */
  bounds?: { start: number; end: number };
  column?: string;
  value: number;
  limit: number;
  message: string;
  at: string;
}

export interface AlertSink {
  readonly name: string;
  send(alert: Alert): Promise<void>;
}

export interface Candidate {
  rule: string;
  type: string;
  severity?: 'warning' | 'critical';
  cooldownMs?: number;
  model: string;
  version: number;
  window?: string;
  bounds?: { start: number; end: number };
  column?: string;
  firing: boolean;
  value: number;
  limit: number;
  message: string;
}

export class AlertManager {
  private readonly lastSent = new Map<string, number>();
  private readonly seen = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  readonly history: Alert[] = [];

  constructor(private readonly opts: {
    cooldownMs: number;
    sinks: AlertSink[];
    metrics?: MonitoringMetrics;
    onSinkError?: (sink: string, alert: Alert, e: unknown) => void;
    now?: () => number;
    /** Alerts kept for the status page. */
    keep?: number;
  }) {}

  /** Adds a sink (e.g. the retraining trigger) after construction. */
  addSink(sink: AlertSink): void {
    this.opts.sinks.push(sink);
  }

  /** Applies dedup and cooldown; returns the alert when it was sent. */
  evaluate(c: Candidate): Alert | null {
    if (!c.firing) return null;
    const labels = { model: c.model, version: String(c.version), rule: c.rule };
    const windowKey = `${c.rule}|${c.model}|${c.version}|${c.column ?? ''}|${c.window ?? ''}|${c.bounds ? `${c.bounds.start}-${c.bounds.end}` : ''}`;
    if (c.bounds && this.seen.has(windowKey)) return null;
    const now = (this.opts.now ?? Date.now)();
    const key = `${c.rule}|${c.model}|${c.version}|${c.column ?? ''}`;
    const last = this.lastSent.get(key);
    const cooldown = c.cooldownMs ?? this.opts.cooldownMs;
    if (c.bounds) this.seen.add(windowKey);
    if (last !== undefined && now - last < cooldown) {
      this.opts.metrics?.alertsSuppressed.inc(labels);
      return null;
    }
    this.lastSent.set(key, now);
    const alert: Alert = {
      id: crypto.randomUUID(), rule: c.rule, type: c.type, severity: c.severity ?? 'warning', model: c.model, version: c.version,
      window: c.window, bounds: c.bounds, column: c.column, value: c.value, limit: c.limit, message: c.message, at: new Date(now).toISOString(),
    };
    this.opts.metrics?.alertsFired.inc(labels);
    this.deliver(alert);
    return alert;
  }

  /**
   * Keeps an alert for the status page and sends it to every sink, without deciding again:
   * for alerts decided elsewhere (the monitoring thread's own manager).
   */
  deliver(alert: Alert): void {
    this.history.push(alert);
    if (this.history.length > (this.opts.keep ?? 200)) this.history.shift();
    for (const sink of this.opts.sinks) {
      const p = sink.send(alert).catch((e) => this.opts.onSinkError?.(sink.name, alert, e)).finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
  }

  recent(model?: string): Alert[] {
    return this.history.filter((a) => model === undefined || a.model === model);
  }

  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}
