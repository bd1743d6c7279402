/**
 * Scenario `sweep`: constant-arrival-rate (open loop) load from light to overload on
 * flights-delay, one real February 2001 row per OIP v2 JSON request, one curve per
 * batching policy: adaptive (untuned, latency_slo_ms 20) and static with
 * max_queue_delay_ms 0, 2 and 5 (temp repository copies with an edited model.json).
 * Reports, per offered rate, the answers within the objective per second (goodput) and
 * p99, and charts latency against throughput.
 */
import { pinProcess } from '../lib/pinning';
import {
  FLIGHTS_INFER_PATH,
  FLIGHTS_MODEL,
  FLIGHTS_TOLERANCE,
  flightsInputInfo,
  flightsModelFiles,
  flightsParquet,
  flightsReference,
  inferJsonBody,
  loadFebruaryFlights,
  loadSpec,
  maxAbsDiff,
  parseInferJson,
  prepareTensor,
} from '../lib/flights';
import { closedLoop, type LoadTarget } from '../lib/load';
import { entry, type RatioInput } from '../lib/ratios';
import { copyRepository, removeOnExit, type ModelJson, type RepoCopy } from '../lib/repo-copy';
import { assembleResult, startClock } from '../lib/result';
import { openSeries } from '../lib/series';
import { ratio } from '../lib/stats';
import { inferaServer, newTarget, oursRepository, preflight, runOnServer, selectTarget } from '../lib/targets';
import type { BenchResult, RatioEntry, RunOptions, Scenario, ScenarioContext, Section, TargetResult } from '../lib/types';

export const OBJECTIVE_MS = 20;
export const SWEEP_SOCKETS = 256;
export const RATE_FRACTIONS_QUICK = [0.25, 0.75, 1.25, 2];
/**
 * The probe runs on the first policy (static 0 ms: the least batching), and larger
 * delays serve more, so the offered rates go well past the probe.
 */
export const RATE_FRACTIONS_FULL = [0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5];

export interface Policy {
  name: string;
  batching: Record<string, unknown>;
}

export const POLICIES: Policy[] = [
  { name: 'static 0 ms', batching: { policy: 'static', max_queue_delay_ms: 0 } },
  { name: 'static 2 ms', batching: { policy: 'static', max_queue_delay_ms: 2 } },
  { name: 'static 5 ms', batching: { policy: 'static', max_queue_delay_ms: 5 } },
  { name: `adaptive (slo ${OBJECTIVE_MS} ms)`, batching: { policy: 'adaptive', latency_slo_ms: OBJECTIVE_MS } },
];

/** The model.json of a policy: the shipped one with its `batching` replaced (queue size, timeout kept). */
export function withPolicy(cfg: ModelJson, p: Policy): ModelJson {
  const { max_queue_delay_ms: _d, preferred_batch_sizes: _p, policy: _q, latency_slo_ms: _s, ...rest } = cfg.batching ?? {};
  return { ...cfg, batching: { ...rest, ...p.batching } };
}

/** Offered rates: fractions of the capacity scale, rounded. */
export function sweepRates(capacity: number, quick: boolean): number[] {
  return [...new Set((quick ? RATE_FRACTIONS_QUICK : RATE_FRACTIONS_FULL).map((f) => Math.max(1, Math.round(capacity * f))))];
}

export interface PolicySummary {
  policy: string;
  bestGoodput: number;
  bestGoodputAt: number | null;
  /** Highest offered rate served at ≥ 95 % with p99 within the objective. */
  maxRateWithinObjective: number | null;
}

export function summarize(t: TargetResult, objectiveMs = OBJECTIVE_MS): PolicySummary {
  let best = 0;
  let at: number | null = null;
  let within: number | null = null;
  for (const s of t.series.filter((x) => x.mode === 'open')) {
    const g = s.goodputPerSec?.median ?? 0;
    if (g > best) {
      best = g;
      at = s.offeredRate ?? null;
    }
    const served = s.reqPerSec.median >= 0.95 * (s.offeredRate ?? Infinity);
    if (served && s.latencyMs.p99.median <= objectiveMs && s.offeredRate !== undefined) within = Math.max(within ?? 0, s.offeredRate);
  }
  return { policy: t.variant ?? t.name, bestGoodput: best, bestGoodputAt: at, maxRateWithinObjective: within };
}

export function computeSweepRatios(r: RatioInput): RatioEntry[] {
  const ok = r.targets.filter((t) => t.status === 'ok');
  const adaptive = ok.find((t) => (t.variant ?? '').startsWith('adaptive'));
  const out: RatioEntry[] = [];
  const a = adaptive ? summarize(adaptive) : null;
  for (const t of ok.filter((x) => x !== adaptive)) {
    const s = summarize(t);
    out.push(
      entry(
        `adaptive_over_${(t.variant ?? t.name).replace(/[^a-z0-9]+/gi, '_')}_goodput`,
        `best goodput (2xx ≤ ${OBJECTIVE_MS} ms per s): adaptive ÷ ${t.variant}`,
        'x',
        'max over offered rates of goodput ÷ same',
        ratio(a?.bestGoodput, s.bestGoodput),
        !a ? 'adaptive policy not measured' : `${t.variant} had no answer within the objective`,
      ),
    );
  }
  return out;
}

export const scenario: Scenario = {
  name: 'sweep',
  description:
    `Open-loop sweep (constant arrival rate, light load to overload) on flights-delay, 1 real February 2001 row per OIP v2 JSON request: ` +
    `one curve per batching policy — adaptive (untuned, latency_slo_ms ${OBJECTIVE_MS}) and static max_queue_delay_ms 0, 2, 5 — ` +
    `throughput within the ${OBJECTIVE_MS} ms objective and p99 per offered rate.`,

  async run(opts: RunOptions, ctx: ScenarioContext): Promise<BenchResult> {
    const clock = startClock();
    const root = ctx.repoRoot;
    const source = oursRepository(root);
    const files = flightsModelFiles(source);
    const flights = await loadFebruaryFlights(flightsParquet(root), 512);
    const tensor = prepareTensor(loadSpec(files.featureSpec), flights);
    const refs = await flightsReference(files.model, tensor.data, tensor.width);
    const bodies = Array.from({ length: flights.rows }, (_, i) => inferJsonBody(tensor.data, tensor.width, i, 1, String(i)));
    const copies: RepoCopy[] = POLICIES.map((p) => copyRepository(source, [FLIGHTS_MODEL], (_m, c) => withPolicy(c, p), `sweep-${p.name}`));
    const cleanup = removeOnExit(copies);

    if (ctx.pinning.enabled && ctx.pinning.loadgenCpus) pinProcess(process.pid, ctx.pinning.loadgenCpus);
    ctx.log(`pinning: ${ctx.pinning.note}`);

    const load = (baseUrl: string): LoadTarget => ({ baseUrl, path: FLIGHTS_INFER_PATH, bodies });
    const series = { warmupS: opts.warmupS, durationS: opts.durationS, repeats: opts.repeats, objectiveMs: OBJECTIVE_MS };
    const check = [0, 1, 2].map((i) => ({ path: FLIGHTS_INFER_PATH, body: bodies[i] }));
    let rates: number[] | null = opts.rate ? sweepRates(opts.rate, opts.quick) : null;
    let probe: number | null = null;
    const targets: TargetResult[] = [];
    try {
      for (let i = 0; i < POLICIES.length; i++) {
        const p = POLICIES[i];
        const def = inferaServer({
          repository: copies[i].dir,
          models: [FLIGHTS_MODEL],
          description: `Infera on a temp copy of flights-delay with batching ${JSON.stringify(copies[i].configs[FLIGHTS_MODEL].batching)}.`,
        });
        const t = newTarget(def, p.name, 1);
        targets.push(t);
        if (!selectTarget(def, t, opts, ctx)) continue;
        await runOnServer(def, t, ctx, async (baseUrl) => {
          const pf = await preflight(baseUrl, check, (reply, k) => maxAbsDiff(parseInferJson(reply.body, 1), refs.subarray(k, k + 1)), FLIGHTS_TOLERANCE);
          t.preflight = pf.res;
          if (!pf.res.ok) t.flags.push(`${def.name} [${p.name}]: preflight failed: ${pf.res.error}`);
          if (!rates) {
            // capacity scale: closed loop at 64 connections on the first policy
            const r = await closedLoop(load(baseUrl), { connections: 64, warmupS: opts.warmupS, durationS: opts.quick ? 1 : 4 });
            probe = r.reqPerSec;
            rates = sweepRates(Math.max(10, r.reqPerSec), opts.quick);
            ctx.log(`  capacity probe (closed loop, 64 conn, ${p.name}): ${r.reqPerSec} req/s → offered rates ${rates.join(', ')}`);
          }
          for (const rate of rates) {
            ctx.log(`  [${p.name}] open loop ${rate} req/s`);
            t.series.push(await openSeries(load(baseUrl), rate, SWEEP_SOCKETS, series, ctx.log));
          }
        });
        // overload is the point of the sweep: keep those flags in the table, not in the list
        t.flags = t.flags.filter((f) => !/overloaded|unanswered/.test(f));
      }
    } finally {
      cleanup();
    }

    const ok = targets.filter((t) => t.status === 'ok');
    const sections: Section[] = [
      {
        title: `Per policy: best goodput and the highest rate within p99 ≤ ${OBJECTIVE_MS} ms`,
        text: `Goodput = 2xx answers within ${OBJECTIVE_MS} ms of their intended send time, per second. "Within objective" = served ≥ 95 % of the offered rate with p99 ≤ ${OBJECTIVE_MS} ms.`,
        columns: ['policy', 'best goodput /s', 'at offered req/s', 'highest offered req/s within objective'],
        rows: ok.map((t) => {
          const s = summarize(t);
          return [s.policy, Math.round(s.bestGoodput), s.bestGoodputAt ?? 'n/a', s.maxRateWithinObjective ?? 'none'];
        }),
      },
      {
        title: 'Per offered rate',
        columns: ['policy', 'offered req/s', 'served 2xx/s', `2xx ≤ ${OBJECTIVE_MS} ms /s`, 'p50 ms', 'p99 ms', 'non-2xx (503 shed/queue)', 'errors', 'unanswered'],
        rows: ok.flatMap((t) =>
          t.series
            .filter((s) => s.mode === 'open')
            .map((s) => [
              t.variant ?? t.name,
              s.offeredRate ?? 0,
              Math.round(s.reqPerSec.median),
              Math.round(s.goodputPerSec?.median ?? 0),
              s.latencyMs.p50.median,
              s.latencyMs.p99.median,
              s.non2xx,
              s.errors,
              s.runs.reduce((a, r) => a + (r.incomplete ?? 0), 0),
            ]),
        ),
      },
    ];
    return assembleResult(
      {
        scenario: 'sweep',
        description: this.description,
        clock,
        input: flightsInputInfo(flights, 'one prepared row per OIP v2 JSON request', { featureWidth: tensor.width }),
        inProcess: null,
        targets,
        bodies,
        openLoopRate: null,
        settings: { objectiveMs: OBJECTIVE_MS, sockets: SWEEP_SOCKETS, capacityProbeReqPerSec: probe, rates, policies: POLICIES },
        sections,
        ratios: computeSweepRatios,
      },
      opts,
      ctx,
    );
  },
};
