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
}

export type Decision =
  | { kind: 'dispatch'; count: number; rows: number }
  | { kind: 'wait'; waitMs: number }
  | { kind: 'idle' };

export interface BatchPolicy {
  decide(queue: readonly QueuedView[], now: number): Decision;
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
