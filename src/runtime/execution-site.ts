import type { ExecutionMode } from '../config/model-config';
import { CostSnapshot, costMs } from '../batching/cost-model';

/**
 * Where one batch runs: inline on the event loop (no thread hop: the request is parsed, run
 * and answered on one thread, as the naive server does) or in the worker pool (the event loop
 * keeps reading and parsing while a worker computes). A pure decision on the version's learned
 * cost model, tested on fixed numbers.
 *
 * Measured reason (bench/README.md, "Where a batch runs"): on a busy core every hop to another
 * thread costs a scheduler wake-up of 0.1–0.2 ms on average and up to several ms at the tail,
 * more than the whole compute of a small batch (one VAD chunk: 0.14 ms). A hop pays only when
 * there is another core to run on and the batch is long enough that the event loop would
 * otherwise stall the next requests' parsing.
 */
export type ExecutionSite = 'inline' | 'pool';

export interface SiteDecisionInput {
  mode: ExecutionMode;
  rows: number;
  cost: Pick<CostSnapshot, 'a' | 'b' | 'ready' | 'maxRows'>;
  /** CPUs this process may run on (os.availableParallelism: affinity and cpusets respected). */
  cores: number;
  /** model.json instance.inline_max_ms; undefined = the default for `cores`. */
  inlineMaxMs?: number;
}

/**
 * Default budget of inline compute per batch. One core: a worker has no core of its own, so
 * the hop buys nothing but wake-ups; only a batch long enough to starve health checks and I/O
 * (50 ms) goes to the pool. Several cores: a batch runs inline only when it costs less than
 * about one request's parse and encode (1 ms), so the event loop stays free to feed the workers.
 */
export function defaultInlineMaxMs(cores: number): number {
  return cores <= 1 ? 50 : 1;
}

export function chooseSite(i: SiteDecisionInput): ExecutionSite {
  if (i.mode !== 'auto') return i.mode;
  // Nothing measured yet: on one core inline is right for all but huge batches; with more
  // cores the pool is the safe start, and its timings teach the model.
  if (!i.cost.ready) return i.cores <= 1 ? 'inline' : 'pool';
  return predictedMs(i.cost, i.rows) <= (i.inlineMaxMs ?? defaultInlineMaxMs(i.cores)) ? 'inline' : 'pool';
}

/**
 * cost(rows), but never below proportional scaling past the largest batch seen: a model fitted
 * on batches of one size has no slope (fitLine takes it as constant), and a batch 24 times
 * larger must not be predicted to cost the same when deciding to block the event loop with it.
 */
export function predictedMs(cost: Pick<CostSnapshot, 'a' | 'b' | 'maxRows'>, rows: number): number {
  const fitted = costMs(cost, rows);
  const seen = cost.maxRows ?? 0;
  if (!(seen > 0) || rows <= seen) return fitted;
  return Math.max(fitted, (costMs(cost, seen) * rows) / seen);
}
