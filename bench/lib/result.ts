/** Builds a BenchResult from a scenario's measurements (common fields, flags, timing). */
import { performance } from 'node:perf_hooks';
import { byteStats, collectFlags } from './targets';
import { RESULT_SCHEMA_VERSION, type BenchResult, type InProcessResult, type InputInfo, type RatioEntry, type RunOptions, type ScenarioContext, type Section, type TargetResult } from './types';

/** The clock of a scenario run: call at the start, pass to assembleResult. */
export function startClock(): { t0: number; startedAt: string } {
  return { t0: performance.now(), startedAt: new Date().toISOString() };
}

export type RatioBase = Pick<BenchResult, 'targets' | 'inProcess' | 'config' | 'pinning' | 'machine'>;

export interface ResultParts {
  scenario: string;
  description: string;
  clock: { t0: number; startedAt: string };
  input: InputInfo;
  inProcess: InProcessResult | null;
  targets: TargetResult[];
  /** Request bodies (or stream frames) sent, for their sizes. */
  bodies: Buffer[];
  openLoopRate: number | null;
  response?: { body: Buffer; source: string } | null;
  settings?: Record<string, unknown>;
  sections?: Section[];
  flags?: string[];
  /** Computed from the assembled result (pure). */
  ratios(base: RatioBase): RatioEntry[];
}

export function assembleResult(p: ResultParts, opts: RunOptions, ctx: ScenarioContext): BenchResult {
  const base: RatioBase = {
    targets: p.targets,
    inProcess: p.inProcess,
    pinning: ctx.pinning,
    machine: ctx.machine,
    config: {
      connections: opts.connections,
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      repeats: opts.repeats,
      openLoopRate: p.openLoopRate,
      requestBodyBytes: p.bodies.length ? byteStats(p.bodies) : { min: 0, max: 0, mean: 0 },
      responseBodyBytes: p.response?.body.length ?? null,
      responseBodySource: p.response?.source ?? null,
      loadgen: opts.loadgen,
    },
  };
  const r: BenchResult = {
    schemaVersion: RESULT_SCHEMA_VERSION,
    scenario: p.scenario,
    description: p.description,
    mode: opts.quick ? 'quick' : 'full',
    startedAt: p.clock.startedAt,
    finishedAt: new Date().toISOString(),
    elapsedS: Math.round((performance.now() - p.clock.t0) / 100) / 10,
    ...base,
    input: p.input,
    ratios: p.ratios(base),
    flags: [...collectFlags(p.targets, p.inProcess), ...(p.flags ?? [])],
  };
  if (p.settings) r.settings = p.settings;
  if (p.sections) r.sections = p.sections;
  return r;
}
