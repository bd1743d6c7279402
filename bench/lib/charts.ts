/**
 * Charts of a result (pure): latency against throughput for every group of targets
 * (one group per variant), one line per target and load mode, points ordered by load
 * (connections, offered rate or streams); plus goodput against offered rate where the
 * series counted answers within a latency objective.
 */
import { lineChart, type ChartSeries } from './svg';
import type { BenchResult, SeriesResult, TargetResult } from './types';

export interface ChartFile {
  file: string;
  svg: string;
}

/** File-name safe slug. */
export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'all';
}

function loadKey(s: SeriesResult): number {
  return s.mode === 'open' ? s.offeredRate ?? 0 : s.connections;
}

/** Throughput of a series in the unit the chart uses (rows/s where requests carry several rows). */
export function throughput(t: TargetResult, s: SeriesResult): number {
  return s.reqPerSec.median * (t.rowsPerRequest ?? 1);
}

/**
 * One chart per variant when variants are request shapes compared across servers; one
 * chart for everything when a single server is measured in several variants (policies).
 */
function groups(r: BenchResult): Map<string, TargetResult[]> {
  const out = new Map<string, TargetResult[]>();
  const ok = r.targets.filter((t) => t.status === 'ok' && t.series.length > 0);
  const oneServer = new Set(ok.map((t) => t.name)).size === 1;
  for (const t of ok) {
    const k = oneServer ? '' : t.variant ?? '';
    out.set(k, [...(out.get(k) ?? []), t]);
  }
  return out;
}

export function renderCharts(r: BenchResult): ChartFile[] {
  const files: ChartFile[] = [];
  const objective = r.targets.flatMap((t) => t.series).find((s) => s.objectiveMs !== undefined)?.objectiveMs;
  for (const [variant, targets] of groups(r)) {
    const suffix = variant ? ` — ${variant}` : '';
    const stream = targets.some((t) => t.series.some((s) => s.mode === 'stream'));
    const rows = targets.some((t) => (t.rowsPerRequest ?? 1) > 1);
    const series: ChartSeries[] = [];
    for (const t of targets) {
      const modes = [...new Set(t.series.map((s) => s.mode))];
      for (const mode of modes) {
        const ss = t.series.filter((s) => s.mode === mode).sort((a, b) => loadKey(a) - loadKey(b));
        const who = variant === '' && t.variant ? t.variant : t.name;
        const name = modes.length > 1 ? `${who} (${mode})` : who;
        series.push({
          name,
          colorKey: who,
          dashed: mode === 'open' && modes.length > 1,
          points: ss.map((s) => [stream ? s.connections : throughput(t, s), s.latencyMs.p99.median]),
        });
      }
    }
    files.push({
      file: `latency-throughput${variant ? `-${slug(variant)}` : ''}.svg`,
      svg: lineChart({
        title: stream ? `${r.scenario}${suffix}: p99 chunk latency vs concurrent streams` : `${r.scenario}${suffix}: p99 latency vs throughput`,
        xLabel: stream ? 'concurrent real-time streams' : rows ? 'throughput (rows/s)' : 'throughput (2xx req/s)',
        yLabel: stream ? 'p99 chunk latency (ms)' : 'p99 latency (ms)',
        logY: true,
        logX: !stream,
        series,
        hline: objective !== undefined ? { y: objective, label: `objective ${objective} ms` } : undefined,
      }),
    });
  }
  const withGoodput = r.targets.filter((t) => t.status === 'ok' && t.series.some((s) => s.mode === 'open' && s.goodputPerSec && s.offeredRate !== undefined));
  if (withGoodput.length) {
    files.push({
      file: 'goodput.svg',
      svg: lineChart({
        title: `${r.scenario}: answers within ${objective ?? '?'} ms per second vs offered rate`,
        xLabel: 'offered rate (req/s)',
        yLabel: `2xx within ${objective ?? '?'} ms per second`,
        series: withGoodput.map((t) => ({
          name: t.variant ?? t.name,
          points: t.series
            .filter((s) => s.mode === 'open' && s.goodputPerSec && s.offeredRate !== undefined)
            .sort((a, b) => loadKey(a) - loadKey(b))
            .map((s) => [s.offeredRate as number, (s.goodputPerSec as { median: number }).median]),
        })),
      }),
    });
  }
  return files;
}
