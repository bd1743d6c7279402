/** Ratio arithmetic over a result (pure): lookups, n/a with a reason, the HTTP scenario ratios. */
import { ratio } from './stats';
import type { BenchResult, CeilingResult, LoadMode, RatioEntry, SeriesResult } from './types';

export type RatioInput = Pick<BenchResult, 'targets' | 'inProcess' | 'config' | 'pinning' | 'machine'>;

export function findSeries(r: RatioInput, target: string, mode: LoadMode, connections?: number, variant?: string): SeriesResult | null {
  const t = r.targets.find((x) => x.name === target && x.variant === variant);
  if (!t || t.status !== 'ok') return null;
  return t.series.find((s) => s.mode === mode && (connections === undefined || s.connections === connections)) ?? null;
}

export function whyMissing(r: RatioInput, target: string, what: string, variant?: string): string {
  const t = r.targets.find((x) => x.name === target && x.variant === variant);
  const who = `${target}${variant ? ` [${variant}]` : ''}`;
  if (!t) return `${who} not in this run`;
  if (t.status !== 'ok') return `${who} ${t.status}: ${t.reason ?? ''}`.trim();
  return `${who} has no ${what}`;
}

/** The fastest in-process ceiling with `workers` workers (at `batch` when given). */
export function bestCeiling(r: RatioInput, workers: number, batch?: number, label?: string): CeilingResult | null {
  const cs = r.inProcess?.ceilings.filter((c) => c.workers === workers && (batch === undefined || c.batch === batch) && c.label === label) ?? [];
  if (cs.length === 0) return null;
  return cs.reduce((a, b) => (b.rowsPerSec.median > a.rowsPerSec.median ? b : a));
}

export function entry(key: string, label: string, unit: 'x' | 'ms', formula: string, value: number | null, reason: string): RatioEntry {
  const e: RatioEntry = { key, label, unit, formula, value: value === null ? null : Math.round(value * 1e4) / 1e4 };
  if (value === null) e.reason = reason;
  return e;
}

export interface HttpNames {
  naive: string;
  http: string;
}

/**
 * Ratios of one subject target (ours, or a peer for context) at the largest connection
 * count: ÷ naive req/s, ÷ HTTP ceiling req/s, rows/s ÷ best in-process rows/s (the
 * server's core budget and the whole machine), p99 ÷ p50, and the overhead at 1 connection
 * (HTTP p50 − in-process single-run p50).
 */
export function subjectRatios(r: RatioInput, subject: string, prefix: string, names: HttpNames, variant?: string): RatioEntry[] {
  const main = Math.max(...r.config.connections);
  const s = findSeries(r, subject, 'closed', main, variant);
  const s1 = findSeries(r, subject, 'closed', 1, variant);
  const missS = whyMissing(r, subject, `${main}-connection run`, variant);
  const rows = r.targets.find((x) => x.name === subject && x.variant === variant)?.rowsPerRequest ?? 1;
  const out: RatioEntry[] = [];

  if (subject !== names.naive) {
    const n = findSeries(r, names.naive, 'closed', main, variant);
    const v = ratio(s?.reqPerSec.median, n?.reqPerSec.median);
    out.push(
      entry(`${prefix}_over_naive_rps`, `${subject} ÷ ${names.naive} req/s @ ${main} conn`, 'x', 'median req/s ÷ median req/s', v, !s ? missS : whyMissing(r, names.naive, `${main}-connection run`, variant)),
    );
  }
  {
    const h = findSeries(r, names.http, 'closed', main, variant);
    const v = ratio(s?.reqPerSec.median, h?.reqPerSec.median);
    out.push(
      entry(`${prefix}_over_http_ceiling_rps`, `${subject} ÷ HTTP ceiling (${names.http}) req/s @ ${main} conn`, 'x', 'median req/s ÷ median req/s', v, !s ? missS : whyMissing(r, names.http, `${main}-connection run`, variant)),
    );
  }
  const serverCores = r.pinning.serverCoreCount;
  for (const w of [...new Set([serverCores, r.machine.cores])]) {
    const c = bestCeiling(r, w);
    const v = ratio(s ? s.reqPerSec.median * rows : null, c?.rowsPerSec.median);
    const scope = w === serverCores ? `${w} worker(s) = server's cores` : `${w} workers = whole machine`;
    out.push(
      entry(
        `${prefix}_over_inprocess_rows_w${w}`,
        `${subject} rows/s ÷ in-process ceiling (${scope}${c ? `, best batch ${c.batch}` : ''})`,
        'x',
        `median req/s × ${rows} row(s) ÷ median in-process rows/s`,
        v,
        !s ? missS : `no in-process ceiling with ${w} workers`,
      ),
    );
  }
  out.push(entry(`${prefix}_p99_over_p50`, `${subject} p99 ÷ p50 @ ${main} conn`, 'x', 'median p99 ÷ median p50', ratio(s?.latencyMs.p99.median, s?.latencyMs.p50.median), missS));
  {
    const single = r.inProcess?.singleRun?.latencyMs.p50;
    const v = s1 && single !== undefined ? s1.latencyMs.p50.median - single : null;
    out.push(
      entry(
        `${prefix}_overhead_1conn_ms`,
        `${subject} overhead @ 1 conn (HTTP p50 − in-process single-run p50)`,
        'ms',
        'median p50 @ 1 conn − in-process batch-1 p50',
        v,
        !s1 ? whyMissing(r, subject, '1-connection run', variant) : 'no in-process single-run latency',
      ),
    );
  }
  return out;
}
