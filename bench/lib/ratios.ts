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

/** A ladder rung is sustained when it served ≥ this share of the offered rate, every answer a 2xx in time. */
export const SUSTAINED_SHARE = 0.95;

/**
 * The highest offered open-loop rate a target sustained with p99 ≤ budgetMs, and whether
 * that was its highest rung (then the true figure may be higher).
 */
export function sustainedRate(series: SeriesResult[], budgetMs: number): { rate: number; top: boolean } | null {
  const open = series.filter((s) => s.mode === 'open' && s.offeredRate !== undefined);
  const ok = open.filter(
    (s) => s.errors === 0 && s.non2xx === 0 && s.timeouts === 0 && s.reqPerSec.median >= SUSTAINED_SHARE * (s.offeredRate as number) && s.latencyMs.p99.median <= budgetMs,
  );
  if (ok.length === 0) return null;
  const rate = Math.max(...ok.map((s) => s.offeredRate as number));
  return { rate, top: rate === Math.max(...open.map((s) => s.offeredRate as number)) };
}

/**
 * Ours ÷ the naive peer at equal p99: the budget is the naive peer's p99 at the base open-loop
 * rate (its first open series: OPEN_LOOP_FRACTION of its capacity); each side's figure is the
 * highest ladder rate it sustained within that budget. A lower bound when ours sustained its
 * top rung, null when ours sustained none.
 */
export function equalP99Ratio(r: RatioInput, subject: string, naive: string, key: string, variant?: string): RatioEntry {
  const find = (name: string) => r.targets.find((x) => x.name === name && x.variant === variant && x.status === 'ok');
  const s = find(subject);
  const n = find(naive);
  const base = n?.series.find((x) => x.mode === 'open');
  const tag = variant ? `[${variant}] ` : '';
  const formula = `highest offered open-loop req/s sustained (served ≥ ${SUSTAINED_SHARE * 100}% of offered, all 2xx, p99 ≤ budget) ÷ the same for ${naive}; budget = ${naive} median p99 at its base open-loop rate`;
  if (!s || !n || !base) {
    return entry(key, `${tag}${subject} ÷ ${naive} at equal p99`, 'x', formula, null, !s ? whyMissing(r, subject, 'open-loop run', variant) : whyMissing(r, naive, 'open-loop run', variant));
  }
  const budget = base.latencyMs.p99.median;
  const ours = sustainedRate(s.series, budget);
  const theirs = sustainedRate(n.series, budget);
  const label = `${tag}${subject} ÷ ${naive} req/s at equal p99 (≤ ${budget} ms, ${naive}'s p99 at ${base.offeredRate} req/s)${ours?.top ? ' — lower bound: ours sustained its highest rate' : ''}`;
  const why = !ours ? `${subject} exceeded p99 ${budget} ms (or failed requests) at every open-loop rate` : `${naive} sustained no open-loop rate within its own p99`;
  return entry(key, label, 'x', formula, ours && theirs ? ours.rate / theirs.rate : null, why);
}

export interface HttpNames {
  naive: string;
  http: string;
}

/**
 * Ratios of one subject target (ours, or a peer for context) at the largest connection
 * count: ÷ naive req/s (and at equal p99, from the open-loop ladder), ÷ HTTP ceiling req/s, rows/s ÷ best in-process rows/s (the
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
    out.push(equalP99Ratio(r, subject, names.naive, `${prefix}_over_naive_equal_p99`, variant));
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

/**
 * One core's limit for this request, from three figures of the same run: the model's batched
 * compute (the best in-process rows/s on the server's core budget), the codec's cost per
 * request (inProcess.codec) and the HTTP ceiling's req/s at the largest connection count;
 * limit = 1 / (1/compute + decode + encode + 1/http). The subject's req/s ÷ that limit.
 */
export function oneCoreLimitRatio(r: RatioInput, subject: string, prefix: string, names: HttpNames): RatioEntry {
  const main = Math.max(...r.config.connections);
  const s = findSeries(r, subject, 'closed', main);
  const h = findSeries(r, names.http, 'closed', main);
  const c = bestCeiling(r, r.pinning.serverCoreCount);
  const codec = r.inProcess?.codec;
  const formula = 'median req/s @ max conn ÷ 1e6 / (1e6 / in-process rows/s + codec decode µs + encode µs + 1e6 / HTTP ceiling req/s)';
  const why = !s ? whyMissing(r, subject, `${main}-connection run`) : !h ? whyMissing(r, names.http, `${main}-connection run`) : !c ? 'no in-process ceiling on the server\'s cores' : 'no codec measurement';
  if (!s || !h || !c || !codec) return entry(`${prefix}_over_one_core_limit`, `${subject} ÷ one-core limit`, 'x', formula, null, why);
  const us = 1e6 / c.rowsPerSec.median + codec.decodeUs.median + codec.encodeUs.median + 1e6 / h.reqPerSec.median;
  const limit = 1e6 / us;
  const label =
    `${subject} ÷ one-core limit @ ${main} conn (${Math.round(limit)} req/s = 1 / (${(1e6 / c.rowsPerSec.median).toFixed(1)} µs compute at batch ${c.batch} + ` +
    `${codec.decodeUs.median.toFixed(1)} µs decode + ${codec.encodeUs.median.toFixed(1)} µs encode + ${(1e6 / h.reqPerSec.median).toFixed(1)} µs HTTP))`;
  return entry(`${prefix}_over_one_core_limit`, label, 'x', formula, s.reqPerSec.median / limit, why);
}
