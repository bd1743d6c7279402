/**
 * The batching decision as a pure function of queue state and clock, after
 * Triton's dynamic batcher: dispatch when the batch is full, when it reaches a
 * preferred size, or when its oldest request has waited max_queue_delay;
 * otherwise say how long to wait. Timers live in the batcher around it.
 */
export interface QueuedView {
  /** Rows this request contributes (its size along the batch axis). */
  rows: number;
  enqueuedAt: number;
  /** Requests can share a batch only when their keys are equal (shapes, unbatched values). */
  key: string;
  /** Priority level, 1 = highest (Triton's semantics); the batcher keeps the queue in level order. */
  priority?: number;
  /** When the request times out (its hard limit); latency-aware policies may aim earlier. */
  deadline?: number;
}

/** A batch being executed, for policies that predict when executors free up. */
export interface RunningView {
  rows: number;
  startedAt: number;
}

export type Decision =
  | { kind: 'dispatch'; count: number; rows: number }
  | { kind: 'wait'; waitMs: number }
  | { kind: 'idle' };

export interface BatchPolicy {
  decide(queue: readonly QueuedView[], now: number): Decision;
  /** Learning policies: the batcher reports each executed batch (rows, wall ms). */
  observeBatch?(rows: number, ms: number): void;
  /** Learning policies: the batcher reports each accepted request's arrival time. */
  observeArrival?(now: number): void;
  /**
   * Early shedding: the time a request of `rows` rows would complete if queued behind
   * `ahead`, with `running` batches occupying some of `executors`; undefined when the
   * policy cannot tell (the request is then accepted).
   */
  predictCompletion?(ahead: readonly QueuedView[], rows: number, running: readonly RunningView[], executors: number, now: number): number | undefined;
  /** The latest completion time the policy aims at for a request (at most its deadline). */
  objective?(q: QueuedView): number;
  /** Every request offered, admitted or not, with its rows (the offered load). */
  observeOffered?(now: number, rows: number): void;
  /** Whether the offered load exceeds what `executors` can run: only then does shedding refuse (absent: always). */
  overloaded?(now: number, executors: number): boolean;
}

export interface StaticPolicyConfig {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  preferredBatchSizes: readonly number[];
}

/** The contiguous prefix of the queue that can form one batch. */
export function gather(queue: readonly QueuedView[], maxBatchSize: number): { count: number; rows: number; blocked: boolean } {
  if (queue.length === 0) return { count: 0, rows: 0, blocked: false };
  if (maxBatchSize === 0) return { count: 1, rows: queue[0].rows, blocked: queue.length > 1 };
  const key = queue[0].key;
  let rows = 0;
  let count = 0;
  for (const q of queue) {
    if (q.key !== key || (count > 0 && rows + q.rows > maxBatchSize)) return { count, rows, blocked: true };
    rows += q.rows;
    count += 1;
  }
  return { count, rows, blocked: false };
}

export class StaticPolicy implements BatchPolicy {
  private readonly preferred: Set<number>;

  constructor(private readonly cfg: StaticPolicyConfig) {
    this.preferred = new Set(cfg.preferredBatchSizes);
  }

  decide(queue: readonly QueuedView[], now: number): Decision {
    const g = gather(queue, this.cfg.maxBatchSize);
    if (g.count === 0) return { kind: 'idle' };
    const dispatch: Decision = { kind: 'dispatch', count: g.count, rows: g.rows };
    // Nothing more can join this batch: full, or the next request does not fit or differs.
    if (this.cfg.maxBatchSize === 0 || g.blocked || g.rows >= this.cfg.maxBatchSize) return dispatch;
    if (this.preferred.has(g.rows)) return dispatch;
    const waited = now - queue[0].enqueuedAt;
    if (waited >= this.cfg.maxQueueDelayMs) return dispatch;
    return { kind: 'wait', waitMs: this.cfg.maxQueueDelayMs - waited };
  }
}
