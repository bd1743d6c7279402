/**
 * Windows over a model version's traffic, by count or by time, tumbling (step = length)
 * or sliding (step < length, length a multiple of step). Traffic is cut into panes of one
 * step; a window is the merge of its length/step newest panes. A window closes when a row
 * of a later pane arrives (the watermark passes it): it is then evaluated once and kept.
 * Time windows run on the server's clock ('arrival') or on the model's timestamp input
 * ('event', e.g. the flight's date, for replays). Rows for panes already gone are dropped
 * and counted as late.
 */
import { Baseline } from './baseline';
import { EncodedRows } from './encoder';
import { ProfileSketch } from './sketch';

export interface WindowSpec {
  name: string;
  type: 'count' | 'time';
  /** Rows (count) or milliseconds (time). */
  length: number;
  /** Slide; equal to length for tumbling windows. */
  step: number;
  clock: 'arrival' | 'event';
  /** Closed windows kept (for the report and its charts). */
  keep: number;
}

export interface WindowBounds {
  /** Index of the window's last pane (windows are numbered by it). */
  pane: number;
  /** [start, end): rows by sequence number (count) or epoch ms (time). */
  start: number;
  end: number;
}

export interface ClosedWindow<R> extends WindowBounds {
  sketch: ProfileSketch;
  closedAt: number;
  /** What the owner computed at close (the drift report). */
  result: R;
}

export function checkWindowSpec(w: WindowSpec, where = 'window'): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(w.name)) throw new Error(`${where}: name '${w.name}' must match [A-Za-z0-9][A-Za-z0-9_.-]*`);
  if (w.type !== 'count' && w.type !== 'time') throw new Error(`${where}: type must be 'count' or 'time'`);
  if (!(Number.isInteger(w.length) && w.length > 0)) throw new Error(`${where}: length must be a positive integer`);
  if (!(Number.isInteger(w.step) && w.step > 0 && w.step <= w.length && w.length % w.step === 0)) throw new Error(`${where}: step must divide length`);
  if (w.type === 'count' && w.clock === 'event') throw new Error(`${where}: count windows have no clock`);
  if (!(Number.isInteger(w.keep) && w.keep >= 1)) throw new Error(`${where}: keep must be a positive integer`);
}

export class WindowTracker<R> {
  private readonly panes = new Map<number, ProfileSketch>();
  private watermark = -Infinity;
  private readonly span: number;
  readonly closed: ClosedWindow<R>[] = [];
  late = 0;
  noEventTime = 0;

  constructor(
    readonly spec: WindowSpec,
    private readonly baseline: Baseline,
    private readonly evaluate: (w: WindowBounds, sketch: ProfileSketch) => R,
  ) {
    this.span = spec.length / spec.step;
  }

  private paneOf(e: EncodedRows, r: number, arrivalMs: number, seq: number): number {
    if (this.spec.type === 'count') return Math.floor(seq / this.spec.step);
    const t = this.spec.clock === 'event' ? e.eventMs[r] : arrivalMs;
    return Number.isFinite(t) ? Math.floor(t / this.spec.step) : NaN;
  }

  bounds(pane: number): WindowBounds {
    return { pane, start: (pane - this.span + 1) * this.spec.step, end: (pane + 1) * this.spec.step };
  }

  /** Adds a batch (sequence numbers seq0 …); closes the windows the watermark passes. */
  add(e: EncodedRows, arrivalMs: number, seq0: number, latencyMs?: number): void {
    let r = 0;
    while (r < e.rows) {
      const key = this.paneOf(e, r, arrivalMs, seq0 + r);
      let end = r + 1;
      while (end < e.rows && this.paneOf(e, end, arrivalMs, seq0 + end) === key) end++;
      if (Number.isNaN(key)) this.noEventTime += end - r;
      else if (key <= this.watermark - this.span) this.late += end - r;
      else {
        if (key > this.watermark) this.advance(key);
        let pane = this.panes.get(key);
        if (!pane) this.panes.set(key, (pane = new ProfileSketch(this.baseline)));
        pane.add(e, r, end, arrivalMs, seq0);
        if (latencyMs !== undefined && r === 0) pane.addLatency(latencyMs);
      }
      r = end;
    }
  }

  /** Closes every non-empty window ending before `key`, then drops panes no window needs. */
  private advance(key: number): void {
    if (this.watermark !== -Infinity) {
      const last = Math.min(key - 1, this.watermark + this.span - 1);
      for (let k = this.watermark; k <= last; k++) {
        const sketch = this.merged(k);
        if (sketch.rows === 0) continue;
        const b = this.bounds(k);
        this.closed.push({ ...b, sketch, closedAt: Date.now(), result: this.evaluate(b, sketch) });
        if (this.closed.length > this.spec.keep) this.closed.shift();
      }
    }
    this.watermark = key;
    for (const k of this.panes.keys()) if (k <= key - this.span) this.panes.delete(k);
  }

  private merged(lastPane: number): ProfileSketch {
    const parts: ProfileSketch[] = [];
    for (let k = lastPane - this.span + 1; k <= lastPane; k++) {
      const p = this.panes.get(k);
      if (p) parts.push(p);
    }
    return ProfileSketch.mergeAll(this.baseline, parts);
  }

  /** The window in progress (ending at the newest pane), or null before any row. */
  current(): (WindowBounds & { sketch: ProfileSketch }) | null {
    if (this.watermark === -Infinity) return null;
    return { ...this.bounds(this.watermark), sketch: this.merged(this.watermark) };
  }
}
