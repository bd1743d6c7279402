/**
 * The serving side of online features (definitions and the point-in-time rule: online.ts):
 * events ingested per source, kept per entity as time-sorted cumulative sums, so one
 * aggregate is two binary searches and a subtraction at request time.
 *
 * Invariants:
 *  - a series' `t` is sorted ascending (an out-of-order event is inserted in place and the
 *    sums after it recomputed); cum[m][i] = base[m] + Σ measure m of events 0..i;
 *  - events older than the retention (the longest registered window plus one day) before
 *    the newest event are evicted; a lookup whose window reaches before the eviction
 *    cutoff cannot be exact and is answered with the default, reason 'stale'.
 */
import { MS_PER_DAY, toEpochMs } from './time';
import { eventColumns, measureOf, type OnlineAggregate, type OnlineFeatures } from './online';

export type DefaultReason = 'missing' | 'stale';

/** An event checked by `validate`: its time in epoch ms and its fields. */
export interface ParsedEvent {
  t: number;
  row: Record<string, unknown>;
}

/** Per feature of a spec's online section: its value for one row and why it is the default, if it is. */
export interface OnlineValues {
  values: number[];
  reasons: (DefaultReason | null)[];
}

interface Series {
  t: number[];
  /** One running sum per measure of the group. */
  cum: number[][];
  base: number[];
}

interface Group {
  entity: string[];
  /** Distinct measures (by signature) of the aggregates on this entity; count needs none. */
  measures: OnlineAggregate[];
  signatures: string[];
  series: Map<string, Series>;
}

interface Source {
  name: string;
  timestamp: string;
  strings: Set<string>;
  numbers: Set<string>;
  /** Retained events in arrival order (rebuilds a group a newly loaded version adds). */
  events: ParsedEvent[];
  /** Event times of all retained events, sorted: the staleness check. */
  times: number[];
  groups: Map<string, Group>;
  retentionMs: number;
  /** Events before this time were evicted. */
  cutoff: number;
  newest: number;
}

function upperBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const measureSignature = (f: OnlineAggregate): string | null => (f.aggregate === 'count' ? null : f.aggregate === 'mean' ? `mean:${f.column}` : `rate:${f.column}${f.op}${f.value}`);
const entityKey = (entity: string[], row: Record<string, unknown>): string | null => {
  let key = '';
  for (const c of entity) {
    const v = row[c];
    if (typeof v !== 'string') return null;
    key += `${v}\u0000`;
  }
  return key;
};

/** Summary of one source for GET /v2/features. */
export interface SourceStatus {
  source: string;
  events: number;
  entities: Record<string, number>;
  newest_event: string | null;
  evicted_before: string | null;
}

export class OnlineFeatureStore {
  private readonly sources = new Map<string, Source>();
  private readonly registered = new WeakSet<OnlineFeatures>();

  /**
   * Makes the store keep what a spec's online section needs (idempotent per object; a new
   * group or measure is rebuilt from the retained events).
   * @returns true when the source is new to the store.
   * @throws Error when the section's timestamp column disagrees with the source's.
   */
  register(online: OnlineFeatures): boolean {
    if (this.registered.has(online)) return false;
    let src = this.sources.get(online.source);
    const isNew = !src;
    if (!src) {
      src = { name: online.source, timestamp: online.timestamp, strings: new Set(), numbers: new Set(), events: [], times: [], groups: new Map(), retentionMs: 0, cutoff: -Infinity, newest: -Infinity };
      this.sources.set(online.source, src);
    }
    if (src.timestamp !== online.timestamp) throw new Error(`online source '${online.source}': event time column '${online.timestamp}' differs from '${src.timestamp}' declared by another model`);
    const cols = eventColumns(online);
    cols.strings.forEach((c) => src!.strings.add(c));
    cols.numbers.forEach((c) => src!.numbers.add(c));
    for (const f of online.features) {
      src.retentionMs = Math.max(src.retentionMs, f.window_ms + MS_PER_DAY);
      const gk = f.entity.join('\u0000');
      let g = src.groups.get(gk);
      if (!g) {
        g = { entity: f.entity, measures: [], signatures: [], series: new Map() };
        src.groups.set(gk, g);
      }
      const sig = measureSignature(f);
      if (sig !== null && !g.signatures.includes(sig)) {
        g.signatures.push(sig);
        g.measures.push(f);
        this.rebuild(src, g);
      } else if (g.series.size === 0 && src.events.length > 0) {
        this.rebuild(src, g);
      }
    }
    this.registered.add(online);
    return isNew;
  }

  /** Whether some registered model reads the source. */
  has(source: string): boolean {
    return this.sources.has(source);
  }

  /** The sources some registered model reads. */
  sourceNames(): string[] {
    return [...this.sources.keys()];
  }

  /**
   * Adds events of a source, all or none (validate, then apply).
   * @throws Error naming the first invalid event and field (nothing is added then).
   */
  ingest(source: string, events: unknown[]): { accepted: number; too_old: number } {
    return this.apply(source, this.validate(source, events));
  }

  /**
   * Checks events of a source without storing them.
   * @returns the events with their times, for `apply`.
   * @throws Error naming the source when no registered model reads it, or the first invalid
   *   event and field.
   */
  validate(source: string, events: unknown[]): ParsedEvent[] {
    const src = this.sources.get(source);
    if (!src) throw new Error(`no loaded model reads online source '${source}'`);
    return events.map((e, i) => {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new Error(`events[${i}]: expected an object`);
      const row = e as Record<string, unknown>;
      const t = toEpochMs(row[src.timestamp]);
      if (!Number.isFinite(t)) throw new Error(`events[${i}]: field '${src.timestamp}': expected an ISO timestamp or epoch milliseconds`);
      for (const c of src.strings) if (typeof row[c] !== 'string' || row[c] === '') throw new Error(`events[${i}]: field '${c}': expected a non-empty string`);
      for (const c of src.numbers) if (typeof row[c] !== 'number' || !Number.isFinite(row[c] as number)) throw new Error(`events[${i}]: field '${c}': expected a finite number`);
      return { t, row };
    });
  }

  /**
   * Stores validated events. One older than the eviction cutoff can no longer change any
   * answer and is dropped (counted in `too_old`).
   */
  apply(source: string, events: ParsedEvent[]): { accepted: number; too_old: number } {
    const src = this.sources.get(source);
    if (!src) return { accepted: 0, too_old: 0 };
    let tooOld = 0;
    for (const ev of events) {
      if (ev.t < src.cutoff) tooOld++;
      else this.add(src, ev);
    }
    this.evict(src);
    return { accepted: events.length - tooOld, too_old: tooOld };
  }

  /** How far back a source keeps events (the longest window of its aggregates plus a day). */
  retentionMs(source: string): number {
    return this.sources.get(source)?.retentionMs ?? 0;
  }

  /**
   * The online features of one row, as of the row's own timestamp.
   * A row without a valid timestamp or entity gets the defaults (its transform then
   * refuses it with the field's message).
   */
  values(online: OnlineFeatures, row: Record<string, unknown>): OnlineValues {
    this.register(online);
    const src = this.sources.get(online.source)!;
    const t = toEpochMs(row[online.timestamp]);
    const known = t - online.available_after_ms;
    const out: OnlineValues = { values: [], reasons: [] };
    const lastKnown = src.times[upperBound(src.times, known) - 1];
    const sourceStale = !Number.isFinite(t) || lastKnown === undefined || known - lastKnown > online.max_staleness_ms;
    for (const f of online.features) {
      const from = t - f.window_ms;
      let reason: DefaultReason | null = sourceStale || from < src.cutoff ? 'stale' : null;
      let value = f.default;
      if (reason === null) {
        const g = src.groups.get(f.entity.join('\u0000'))!;
        const key = entityKey(f.entity, row);
        const s = key === null ? undefined : g.series.get(key);
        const hi = s ? upperBound(s.t, known) : 0;
        const lo = s ? upperBound(s.t, from) : 0;
        const n = hi - lo;
        if (n <= 0) reason = 'missing';
        else if (f.aggregate === 'count') value = n;
        else {
          const m = g.signatures.indexOf(measureSignature(f)!);
          const sum = (s!.cum[m][hi - 1]) - (lo > 0 ? s!.cum[m][lo - 1] : s!.base[m]);
          value = sum / n;
        }
      }
      out.values.push(value);
      out.reasons.push(reason);
    }
    return out;
  }

  status(): SourceStatus[] {
    return [...this.sources.values()].map((s) => ({
      source: s.name,
      events: s.times.length,
      entities: Object.fromEntries([...s.groups.values()].map((g) => [g.entity.join('+'), g.series.size])),
      newest_event: Number.isFinite(s.newest) ? new Date(s.newest).toISOString() : null,
      evicted_before: Number.isFinite(s.cutoff) ? new Date(s.cutoff).toISOString() : null,
    }));
  }

  private add(src: Source, ev: ParsedEvent): void {
    src.events.push(ev);
    src.times.splice(upperBound(src.times, ev.t), 0, ev.t);
    if (ev.t > src.newest) src.newest = ev.t;
    for (const g of src.groups.values()) this.addToGroup(g, ev);
  }

  private addToGroup(g: Group, ev: ParsedEvent): void {
    const key = entityKey(g.entity, ev.row);
    if (key === null) return;
    let s = g.series.get(key);
    if (!s) {
      s = { t: [], cum: g.measures.map(() => []), base: g.measures.map(() => 0) };
      g.series.set(key, s);
    }
    const at = upperBound(s.t, ev.t);
    s.t.splice(at, 0, ev.t);
    g.measures.forEach((f, m) => {
      const cum = s!.cum[m];
      const x = measureOf(f, ev.row);
      cum.splice(at, 0, (at > 0 ? cum[at - 1] : s!.base[m]) + x);
      // In time order (the usual case) nothing follows; out of order, the later sums grow by x.
      for (let i = at + 1; i < cum.length; i++) cum[i] += x;
    });
  }

  private rebuild(src: Source, g: Group): void {
    g.series.clear();
    for (const ev of src.events) this.addToGroup(g, ev);
  }

  /** Drops events older than the retention before the newest event (hysteresis: a quarter). */
  private evict(src: Source): void {
    const cutoff = src.newest - src.retentionMs;
    if (src.times.length === 0 || src.times[0] >= cutoff - src.retentionMs / 4) return;
    const dropTimes = upperBound(src.times, cutoff - 1);
    src.times.splice(0, dropTimes);
    src.events = src.events.filter((e) => e.t >= cutoff);
    for (const g of src.groups.values()) {
      for (const [key, s] of g.series) {
        const d = upperBound(s.t, cutoff - 1);
        if (d === 0) continue;
        if (d === s.t.length) {
          g.series.delete(key);
          continue;
        }
        s.t.splice(0, d);
        s.cum.forEach((cum, m) => {
          s.base[m] = cum[d - 1];
          cum.splice(0, d);
        });
      }
    }
    src.cutoff = Math.max(src.cutoff, cutoff);
  }
}
