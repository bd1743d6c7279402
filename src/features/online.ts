/**
 * Online features: aggregates over past events of an entity (an airport, a route), the same
 * definition for training (src/features/online-sql.ts, an as-of join in DuckDB) and for
 * serving (src/features/online-store.ts, kept up to date from ingested events).
 *
 * The point-in-time rule, one for both sides. A row at time t sees the events of its entity
 * with event time e such that
 *     t − window < e ≤ t − available_after
 * i.e. events that happened inside the window and were already known at t (a source's data
 * arrives `available_after` after the event). A row never sees a later event, even when the
 * serving store already holds it.
 * The value is the aggregate of those events; with no such event, or when the source is
 * stale (its last event known at t is older than t − available_after − max_staleness), it
 * is the feature's declared default.
 * Sums are exact for integer-valued columns (both sides subtract cumulative sums), so the
 * served value equals the training value bit for bit.
 */
import { MS_PER_DAY } from './time';

/** One aggregate feature as the feature spec stores it (durations in milliseconds). */
export interface OnlineAggregate {
  /** The model input it fills (a numeric input of the spec). */
  name: string;
  /** Source columns forming the entity key; a row carries the same columns. */
  entity: string[];
  window_ms: number;
  /** count: events; mean: mean of `column`; rate: share of events where `column op value`. */
  aggregate: 'count' | 'mean' | 'rate';
  column?: string;
  op?: '>' | '>=' | '<' | '<=' | '==';
  value?: number;
  /** The value without events in the window, or with a stale source. */
  default: number;
}

/** The online part of a feature spec: one event source and its aggregates. */
export interface OnlineFeatures {
  /** The source's name: the ingest endpoint is POST /v2/features/{source}/events. */
  source: string;
  /** The event time column; rows are looked up as of their own value of it. */
  timestamp: string;
  available_after_ms: number;
  max_staleness_ms: number;
  features: OnlineAggregate[];
}

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: MS_PER_DAY };

/** "90m", "2h", "7d" → milliseconds; NaN when not a duration. */
export function parseDuration(text: string): number {
  const m = DURATION_RE.exec(text);
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2]]) : NaN;
}

/** The measure an event contributes to an aggregate's sum (count: none). */
export function measureOf(f: OnlineAggregate, event: Record<string, unknown>): number {
  const v = event[f.column!] as number;
  if (f.aggregate === 'mean') return v;
  const x = f.value!;
  switch (f.op!) {
    case '>': return v > x ? 1 : 0;
    case '>=': return v >= x ? 1 : 0;
    case '<': return v < x ? 1 : 0;
    case '<=': return v <= x ? 1 : 0;
    case '==': return v === x ? 1 : 0;
  }
}

/** The columns an event of the source must carry for these aggregates. */
export function eventColumns(online: OnlineFeatures): { strings: string[]; numbers: string[] } {
  const strings = [...new Set(online.features.flatMap((f) => f.entity))];
  const numbers = [...new Set(online.features.filter((f) => f.aggregate !== 'count').map((f) => f.column!))];
  return { strings, numbers };
}

/** Structural checks of a spec's online section against its inputs. @throws Error naming the field. */
export function checkOnlineFeatures(online: OnlineFeatures, inputs: { name: string; type: string }[], where: string): void {
  const type = new Map(inputs.map((i) => [i.name, i.type]));
  if (typeof online.source !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(online.source)) throw new Error(`${where}: online.source must be a name ([A-Za-z0-9_.-])`);
  if (type.get(online.timestamp) !== 'timestamp') throw new Error(`${where}: online.timestamp '${online.timestamp}' is not a timestamp input`);
  if (!(online.available_after_ms >= 0) || !(online.max_staleness_ms > 0)) throw new Error(`${where}: online.available_after_ms must be ≥ 0 and max_staleness_ms > 0`);
  if (!Array.isArray(online.features) || online.features.length === 0) throw new Error(`${where}: online.features must list at least one aggregate`);
  for (const [i, f] of online.features.entries()) {
    const at = `${where}: online.features.${i} ('${f.name}')`;
    if (type.get(f.name) !== 'number') throw new Error(`${at}: not a numeric input of the spec`);
    if (!Array.isArray(f.entity) || f.entity.length === 0) throw new Error(`${at}: entity must name at least one column`);
    for (const c of f.entity) if (type.get(c) !== 'string') throw new Error(`${at}: entity column '${c}' is not a string input`);
    if (!(f.window_ms > online.available_after_ms)) throw new Error(`${at}: window_ms must exceed available_after_ms (else no event is ever visible)`);
    if (!Number.isFinite(f.default)) throw new Error(`${at}: default must be a finite number`);
    if (f.aggregate !== 'count' && typeof f.column !== 'string') throw new Error(`${at}: ${f.aggregate} needs a column`);
    if (f.aggregate === 'rate' && !(['>', '>=', '<', '<=', '=='].includes(f.op!) && Number.isFinite(f.value))) throw new Error(`${at}: rate needs op and a finite value`);
    if (!['count', 'mean', 'rate'].includes(f.aggregate)) throw new Error(`${at}: aggregate must be count, mean or rate`);
  }
}
