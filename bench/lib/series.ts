/** Repeats of one load setting: N measured runs (each after a warm-up that is excluded), median and min/max. */
import { closedLoop, openLoop, type LoadTarget } from './load';
import { wrkClosedLoop } from './wrk';
import { spread } from './stats';
import type { LoadGen, LoadMode, LoadRunStats, SeriesResult } from './types';

export interface SeriesOptions {
  warmupS: number;
  durationS: number;
  repeats: number;
  /** Closed-loop generator (default autocannon). */
  loadgen?: LoadGen;
}

/** Warm-up before repeat i: the full warm-up first, then at most 1 s (new connections, warm server). */
export function repeatWarmup(o: SeriesOptions, i: number): number {
  return i === 0 ? o.warmupS : Math.min(1, o.warmupS);
}

/** Pure: folds measured runs into a SeriesResult. */
export function aggregateSeries(
  mode: LoadMode,
  connections: number,
  runs: LoadRunStats[],
  o: Pick<SeriesOptions, 'warmupS' | 'durationS'>,
  offeredRate?: number,
): SeriesResult {
  if (runs.length === 0) throw new Error('aggregateSeries needs at least one run');
  const sum = (f: (r: LoadRunStats) => number) => runs.reduce((a, r) => a + f(r), 0);
  const s: SeriesResult = {
    mode,
    connections,
    warmupS: o.warmupS,
    durationS: o.durationS,
    runs,
    reqPerSec: spread(runs.map((r) => r.reqPerSec)),
    latencyMs: {
      p50: spread(runs.map((r) => r.latencyMs.p50)),
      p90: spread(runs.map((r) => r.latencyMs.p90)),
      p99: spread(runs.map((r) => r.latencyMs.p99)),
      max: spread(runs.map((r) => r.latencyMs.max)),
    },
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    non2xx: sum((r) => r.non2xx),
  };
  if (offeredRate !== undefined) s.offeredRate = offeredRate;
  const objective = runs[0].objectiveMs;
  if (objective !== undefined) {
    s.objectiveMs = objective;
    s.goodputPerSec = spread(runs.map((r) => Math.round(((r.withinObjective ?? 0) / Math.max(1e-3, r.elapsedS)) * 10) / 10));
  }
  return s;
}

export async function closedSeries(
  t: LoadTarget,
  connections: number,
  o: SeriesOptions,
  log: (s: string) => void,
): Promise<SeriesResult> {
  const runs: LoadRunStats[] = [];
  for (let i = 0; i < o.repeats; i++) {
    const run = o.loadgen === 'wrk' ? wrkClosedLoop : closedLoop;
    const r = await run(t, { connections, durationS: o.durationS, warmupS: repeatWarmup(o, i) });
    log(
      `    closed c=${connections} #${i + 1}: ${r.reqPerSec.toFixed(0)} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms` +
        (r.errors || r.non2xx ? `, errors ${r.errors}, non-2xx ${r.non2xx}` : ''),
    );
    runs.push(r);
  }
  return aggregateSeries('closed', connections, runs, o);
}

export async function openSeries(
  t: LoadTarget,
  rate: number,
  maxSockets: number,
  o: SeriesOptions & { objectiveMs?: number },
  log: (s: string) => void,
): Promise<SeriesResult> {
  const runs: LoadRunStats[] = [];
  for (let i = 0; i < o.repeats; i++) {
    const r = await openLoop(t, { rate, durationS: o.durationS, warmupS: repeatWarmup(o, i), maxSockets, objectiveMs: o.objectiveMs });
    log(
      `    open rate=${rate} #${i + 1}: ${r.reqPerSec.toFixed(0)} req/s` +
        (r.withinObjective !== undefined ? ` (${(r.withinObjective / r.elapsedS).toFixed(0)}/s within ${r.objectiveMs} ms)` : '') +
        `, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max send lag ${r.maxSendLagMs} ms` +
        (r.errors || r.non2xx ? `, errors ${r.errors}, non-2xx ${r.non2xx}` : ''),
    );
    runs.push(r);
  }
  return aggregateSeries('open', maxSockets, runs, o, rate);
}
