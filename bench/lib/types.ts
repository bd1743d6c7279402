/** Shapes shared by the harness: CLI options, scenarios and the result.json schema. */
import type { CpuUsage } from './cpu';
import type { Spread } from './stats';

/**
 * 2: `input` describes any real data source (speech, flights rows) instead of one WAV;
 * series may be 'stream' (WebSocket streams); targets may carry a variant (rows per
 * request, batching policy); optional objective counts, sections and charts.
 */
export const RESULT_SCHEMA_VERSION = 2;

/** Closed-loop load generator: autocannon (library, default) or wrk (binary, when installed). */
export type LoadGen = 'autocannon' | 'wrk';

export interface RunOptions {
  scenario: string;
  quick: boolean;
  /** Main connection counts; 1 is always measured too (overhead). */
  connections: number[];
  durationS: number;
  warmupS: number;
  repeats: number;
  pin: boolean;
  /** Only these target names (undefined = all). */
  targets?: string[];
  /** Open-loop offered rate (req/s); undefined = derived by the scenario. */
  rate?: number;
  /** Directory receiving result.json and summary.md. */
  outDir: string;
  /** Closed-loop load generator. */
  loadgen: LoadGen;
}

export interface Scenario {
  name: string;
  description: string;
  run(opts: RunOptions, ctx: ScenarioContext): Promise<BenchResult>;
}

export interface ScenarioContext {
  repoRoot: string;
  machine: MachineFacts;
  pinning: PinningInfo;
  log(line: string): void;
}

export interface MachineFacts {
  /** /proc/loadavg 1-minute value when the run started. */
  loadAvg1m: number;
  cpuModel: string;
  cores: number;
  totalMemGiB: number;
  platform: string;
  arch: string;
  kernel: string;
  node: string;
  packages: Record<string, string | null>;
  git: { commit: string | null; dirty: boolean | null };
  hostname: string;
  /**
   * The server core's own stalls, measured by a busy loop before the run (bench/lib/stall-probe.ts):
   * no tail below them is possible on this machine.
   */
  stalls?: { seconds: number; gaps: number; stalledMs: number; longestMs: number[] };
}

export interface PinningInfo {
  enabled: boolean;
  /** CPU list the servers are started on (taskset -c), null when not pinned. */
  serverCpus: string | null;
  /** CPU list the bench process (load generator) runs on, null when not pinned. */
  loadgenCpus: string | null;
  /** Cores the server may use (its CPU budget). */
  serverCoreCount: number;
  note: string;
}

export interface LatencyMs {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** One measured load run (a single repeat). */
export type LoadMode = 'closed' | 'open' | 'stream';

export interface LoadRunStats {
  mode: LoadMode;
  connections: number;
  /** Measured wall time of the run, seconds. */
  elapsedS: number;
  /** Responses received in the measurement window, any status. */
  responses: number;
  ok2xx: number;
  /** 2xx responses per second. */
  reqPerSec: number;
  /** Latency of 2xx responses in the window (open loop: from the intended send time). */
  latencyMs: LatencyMs;
  /** Closed loop: whole run, warm-up included (no failure is hidden). Open loop: measured requests. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Status codes of the responses in the measurement window. */
  statusCodes: Record<string, number>;
  /** Open loop only. */
  offeredRate?: number;
  sent?: number;
  /** Open loop only: worst delay between intended and actual send (generator saturation). */
  maxSendLagMs?: number;
  /** Open loop only: requests still in flight when the drain timeout expired. */
  incomplete?: number;
  /** With a latency objective: the objective, and 2xx answers (stream: results) within it. */
  objectiveMs?: number;
  withinObjective?: number;
  /** Stream only: p99 of the generator's send lag (intended → actual send), ms. */
  sendLagP99Ms?: number;
}

/** One load setting for one target, aggregated over repeats. */
export interface SeriesResult {
  mode: LoadMode;
  /** Connections (closed/open loop) or concurrent streams. */
  connections: number;
  offeredRate?: number;
  /** With a latency objective: 2xx answers within it per second (goodput). */
  objectiveMs?: number;
  goodputPerSec?: Spread;
  warmupS: number;
  durationS: number;
  runs: LoadRunStats[];
  reqPerSec: Spread;
  latencyMs: { p50: Spread; p90: Spread; p99: Spread; max: Spread };
  errors: number;
  timeouts: number;
  non2xx: number;
}

export interface PreflightResult {
  ok: boolean;
  status: number | null;
  responseBytes: number | null;
  /** Chunks whose output was compared with the in-process model. */
  checked: number;
  maxAbsDiff: number | null;
  error?: string;
}

export type TargetRole = 'ours' | 'naive' | 'http-ceiling';

export interface TargetResult {
  name: string;
  /** Scenario-specific setting measured on this server start, e.g. "64 rows" or "static 2 ms". */
  variant?: string;
  /** Rows each request carries (throughput in rows/s = req/s × rows). */
  rowsPerRequest?: number;
  role: TargetRole;
  description: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  command?: string[];
  preflight?: PreflightResult;
  series: SeriesResult[];
  /** CPU used while this target was under load (null where /proc is unreadable). */
  cpu?: CpuUsage | null;
  /** Human-readable problems (errors, non-2xx, preflight, saturation, noisy machine). */
  flags: string[];
  serverLogTail?: string;
}

export interface CeilingResult {
  /** What ran, when a scenario measures several things (e.g. "native int8"). */
  label?: string;
  workers: number;
  batch: number;
  intraOpNumThreads: number;
  durationS: number;
  rowsPerSec: Spread;
}

export interface SingleRunLatency {
  batch: number;
  intraOpNumThreads: number;
  runs: number;
  latencyMs: LatencyMs;
}

/** The OIP JSON codec's cost per request, in process (bench/lib/codec-cost.ts). */
export interface CodecCost {
  what: string;
  decodeUs: Spread;
  encodeUs: Spread;
}

export interface InProcessResult {
  model: string;
  /** What one run does (e.g. "feature transform + session.run"). */
  what?: string;
  ceilings: CeilingResult[];
  singleRun: SingleRunLatency | null;
  /** CPU during the ceiling runs (serverCoreS is 0: there is no server). */
  cpu?: CpuUsage | null;
  /** The request codec's own cost, where a scenario measures a one-core limit. */
  codec?: CodecCost;
}

export interface RatioEntry {
  key: string;
  label: string;
  value: number | null;
  unit: 'x' | 'ms';
  formula: string;
  reason?: string;
}

/** The real data a scenario sends (never generated). */
export interface InputInfo {
  kind: 'speech' | 'flights';
  sources: { path: string; sha256: string }[];
  /** One line for the summary. */
  description: string;
  /** Distinct real items (chunks, rows) the requests rotate through. */
  items: number;
  facts: Record<string, string | number | boolean>;
}

/** A scenario-specific table rendered in summary.md. */
export interface Section {
  title: string;
  text?: string;
  columns: string[];
  rows: (string | number)[][];
}

export interface BenchResult {
  schemaVersion: number;
  scenario: string;
  description: string;
  mode: 'quick' | 'full';
  startedAt: string;
  finishedAt: string;
  elapsedS: number;
  config: {
    connections: number[];
    durationS: number;
    warmupS: number;
    repeats: number;
    openLoopRate: number | null;
    requestBodyBytes: { min: number; max: number; mean: number };
    responseBodyBytes: number | null;
    responseBodySource: string | null;
    /** Closed-loop load generator (absent in results written before it was selectable: autocannon). */
    loadgen?: LoadGen;
  };
  machine: MachineFacts;
  pinning: PinningInfo;
  input: InputInfo;
  /** Scenario-specific settings (rows per request, policies, rates, objective...). */
  settings?: Record<string, unknown>;
  inProcess: InProcessResult | null;
  targets: TargetResult[];
  ratios: RatioEntry[];
  sections?: Section[];
  /** SVG files written next to result.json. */
  charts?: string[];
  flags: string[];
}
