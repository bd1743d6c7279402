import { BatchPolicy, Decision, QueuedView, RunningView, gather } from './batch-policy';
import { CostModel, CostSnapshot, costMs } from './cost-model';

/**
 * A latency-objective batching policy (`batching.policy: "adaptive"`).
 *
 * Every request should complete within `latencySloMs` of its arrival (or by its own
 * timeout, if sooner): its objective. With the learned cost(n) = a·n + b and the mean
 * arrival gap, decide() is a pure function of (queue, now, snapshot):
 *  1. cold start (fewer than a few batches seen): dispatch what can run, like the static
 *     policy with no delay, so the model learns;
 *  2. cap the batch at the longest prefix whose completion still meets the objective of
 *     every member that can meet it at all (the rest go to the next free executor);
 *  3. dispatch when nothing more can join (full, blocked by a different key), when a
 *     member is already late, when the server keeps up at this size (cost(n) ≤ n · gap:
 *     the next n rows take longer to arrive than these take to run — measured: without
 *     this rule the policy waited ~10 ms per request at 1/3 of capacity, p99 past its own
 *     20 ms objective, once inline execution made batches cheap), or when the batch is
 *     efficient: n ≥ e·b / ((1-e)·a), i.e. within e (0.9) of the asymptotic throughput 1/a;
 *  4. otherwise wait for the next expected arrival if it comes before the latest start
 *     that keeps the batch (one row larger) inside its objectives; else dispatch.
 * Waiting only ever trades latency that the objective allows for larger batches.
 *
 * predictCompletion() drives early shedding: list-schedules the rows ahead (and the
 * running batches) on the executors with the cost model. overloaded() gates it: a request
 * predicted late is refused only while the executors are the bottleneck — the rows offered
 * over the last second exceed what they run at full batches. Below that the queue drains by
 * itself, so a late answer is still an answer: measured, shedding on the prediction alone
 * refused 230 of 6,227 req/s offered below capacity (8.3k; queues behind the machine's own
 * 5-30 ms stalls). A saturated event loop is not a reason to shed: the request has already
 * been read and parsed, a 503 costs the loop about what the answer would, and the queue that
 * grows is in the kernel in front of the parse, where a refusal does not reach (measured,
 * `bench sweep`: shedding on loop saturation refused 0.5 % at 1.0x capacity for 0.99x the
 * goodput of static 5 ms, and every policy still served nothing within 20 ms at 1.25x).
 */
export interface AdaptivePolicyConfig {
  maxBatchSize: number;
  latencySloMs: number;
  /** The event loop's recent utilisation in [0, 1] (loop-load.ts; injected in tests). */
  loopBusy?: () => number;
  /** Fraction of the asymptotic throughput at which a batch counts as large enough. */
  efficiency?: number;
}

export const DEFAULT_EFFICIENCY = 0.9;
/** A loop busier than this has no idle time: waiting for a larger batch only adds latency. */
export const LOOP_SATURATED = 0.95;

/** The completion time a request aims at: its arrival plus the objective, or its deadline. */
export function objectiveOf(q: QueuedView, latencySloMs: number): number {
  return Math.min(q.enqueuedAt + latencySloMs, q.deadline ?? Infinity);
}

/** The adaptive decision (see the class comment), pure. */
export function adaptiveDecide(queue: readonly QueuedView[], now: number, m: CostSnapshot, cfg: AdaptivePolicyConfig): Decision {
  const g = gather(queue, cfg.maxBatchSize);
  if (g.count === 0) return { kind: 'idle' };
  const all: Decision = { kind: 'dispatch', count: g.count, rows: g.rows };
  if (cfg.maxBatchSize === 0 || !m.ready) return all;

  // 2. The longest prefix that keeps every member that can make its objective inside it.
  let rows = 0;
  let minObjective = Infinity;
  let late = false;
  let fit = { count: 0, rows: 0 };
  for (let i = 0; i < g.count; i++) {
    const q = queue[i];
    rows += q.rows;
    const obj = objectiveOf(q, cfg.latencySloMs);
    if (now + costMs(m, q.rows) <= obj) minObjective = Math.min(minObjective, obj);
    else late = true;
    if (now + costMs(m, rows) > minObjective) break;
    fit = { count: i + 1, rows };
  }
  if (fit.count < g.count) return { kind: 'dispatch', count: fit.count, rows: fit.rows };

  // 3. Nothing to gain by waiting.
  if (g.blocked || g.rows >= cfg.maxBatchSize || late) return all;
  // The server keeps up at this batch size: the next g.rows rows take at least as long to
  // arrive as this batch takes to run, so waiting adds latency and buys no throughput.
  if (Number.isFinite(m.gapMs) && costMs(m, g.rows) <= g.rows * m.gapMs) return all;
  const e = cfg.efficiency ?? DEFAULT_EFFICIENCY;
  if (m.a > 0 && g.rows >= Math.ceil((e * m.b) / ((1 - e) * m.a) - 1e-9)) return all;

  // 4. Wait for the next arrival when it is due before the latest safe start — unless the
  // event loop is saturated: then the requests wait for the loop (parse, encode), not for the
  // model, a larger batch saves nothing that matters and the wait only adds to their latency
  // (measured: p50 75 ms against static 0 ms's 23 ms at 1.25× capacity).
  if (!Number.isFinite(m.gapMs) || !Number.isFinite(m.lastArrival)) return all;
  if ((cfg.loopBusy?.() ?? 0) >= LOOP_SATURATED) return all;
  const expectedNext = m.lastArrival + m.gapMs;
  const latestStart = minObjective - costMs(m, g.rows + 1);
  if (expectedNext > now && expectedNext <= latestStart) return { kind: 'wait', waitMs: expectedNext - now };
  return all;
}

/**
 * When a request of `rows` rows queued behind `ahead` would complete: the rows are cut
 * into batches of at most maxBatchSize and each batch goes to the executor that frees
 * first (running batches free at start + cost). Pure; undefined before the model is ready.
 */
export function predictCompletion(
  ahead: readonly QueuedView[], rows: number, running: readonly RunningView[], executors: number,
  now: number, m: CostSnapshot, maxBatchSize: number,
): number | undefined {
  if (!m.ready) return undefined;
  const free = running.map((r) => Math.max(now, r.startedAt + costMs(m, r.rows)));
  while (free.length < Math.max(1, executors)) free.push(now);
  const batches: number[] = [];
  if (maxBatchSize === 0) {
    for (const q of ahead) batches.push(q.rows);
    batches.push(rows);
  } else {
    let left = ahead.reduce((n, q) => n + q.rows, 0) + rows;
    while (left > 0) {
      const n = Math.min(left, maxBatchSize);
      batches.push(n);
      left -= n;
    }
  }
  let finish = now;
  for (const n of batches) {
    let i = 0;
    for (let j = 1; j < free.length; j++) if (free[j] < free[i]) i = j;
    finish = free[i] + costMs(m, n);
    free[i] = finish;
  }
  return finish;
}

export class AdaptivePolicy implements BatchPolicy {
  readonly model: CostModel;

  constructor(private readonly cfg: AdaptivePolicyConfig, model?: CostModel) {
    if (!(cfg.latencySloMs > 0)) throw new Error('adaptive policy needs a positive latency objective');
    this.model = model ?? new CostModel();
  }

  decide(queue: readonly QueuedView[], now: number): Decision {
    return adaptiveDecide(queue, now, this.model.snapshot(), this.cfg);
  }

  observeBatch(rows: number, ms: number): void {
    this.model.observeBatch(rows, ms);
  }

  observeArrival(now: number): void {
    this.model.observeArrival(now);
  }

  predictCompletion(ahead: readonly QueuedView[], rows: number, running: readonly RunningView[], executors: number, now: number): number | undefined {
    return predictCompletion(ahead, rows, running, executors, now, this.model.snapshot(), this.cfg.maxBatchSize);
  }

  observeOffered(now: number, rows: number): void {
    this.model.observeOffered(now, rows);
  }

  /** Compute-bound: the offered rows exceed the executors' throughput at full batches (not the loop's: see the class comment). */
  overloaded(now: number, executors: number): boolean {
    const m = this.model.snapshot();
    if (!m.ready) return false;
    const batch = Math.max(1, this.cfg.maxBatchSize);
    const cost = costMs(m, batch);
    if (!(cost > 0)) return false;
    return this.model.offeredRowsPerMs(now) > (Math.max(1, executors) * batch) / cost;
  }

  objective(q: QueuedView): number {
    return objectiveOf(q, this.cfg.latencySloMs);
  }
}
