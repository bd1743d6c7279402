import { InferaError } from '../errors';
import { BatchPolicy, QueuedView } from './batch-policy';
import { BatchLoop, BatchQueue, BatcherHooks } from './batch-loop';

export type { BatcherHooks, RejectReason } from './batch-loop';

/** One queued request. T is what execution needs (decoded tensors), R what it returns. */
export interface Pending<T, R> extends QueuedView {
  payload: T;
  deadline: number;
  priority: number;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export interface DynamicBatcherOptions<T, R> {
  policy: BatchPolicy;
  maxQueueSize: number;
  /** Batches executed at once; more wait in the queue and grow. */
  maxInFlight: number;
  /** Runs one batch and returns one result per request, in order. */
  execute: (payloads: T[]) => Promise<R[]>;
  now?: () => number;
  hooks?: BatcherHooks;
}

/**
 * A per-model-version queue of independent requests, run by the shared BatchLoop.
 * Invariants: a request leaves the queue exactly once (dispatched, expired or rejected);
 * the queue is ordered by priority level (1 first), FIFO within a level.
 * Learning policies are fed every arrival and every successful batch's wall time; a
 * policy that predicts completion times sheds, at submit, requests that would miss
 * their objective (ENG_ERR_OVERLOADED, 503 + Retry-After).
 */
export class DynamicBatcher<T, R> implements BatchQueue<Pending<T, R>[]> {
  private readonly queue: Pending<T, R>[] = [];
  private readonly loop: BatchLoop<Pending<T, R>[]>;

  constructor(private readonly opts: DynamicBatcherOptions<T, R>) {
    this.loop = new BatchLoop(this, opts);
  }

  get pending(): number {
    return this.queue.length;
  }

  get running(): number {
    return this.loop.running;
  }

  /** Test switch: hold dispatch until `n` requests are queued. 0 releases. */
  holdUntil(n: number): void {
    this.loop.holdUntil(n);
  }

  /** `view.priority`: level 1 is served first; omitted = 1 (a single level). */
  submit(payload: T, view: { rows: number; key: string; priority?: number }, timeoutMs: number): Promise<R> {
    if (this.loop.closed) return Promise.reject(this.loop.shutdownError());
    if (this.queue.length >= this.opts.maxQueueSize) {
      return Promise.reject(this.loop.reject('queue_full', new InferaError('ENG_ERR_QUEUE_FULL', `${this.queue.length} requests waiting`, { retryAfterS: 1 })));
    }
    const now = this.loop.now();
    const priority = view.priority ?? 1;
    // Behind every request of the same or a higher level.
    let at = this.queue.length;
    while (at > 0 && this.queue[at - 1].priority > priority) at--;
    const entry = { rows: view.rows, key: view.key, priority, enqueuedAt: now, deadline: now + timeoutMs };
    const refused = this.loop.admit(entry, () => this.queue.slice(0, at));
    if (refused) return Promise.reject(refused);
    return new Promise<R>((resolve, reject) => {
      this.queue.splice(at, 0, { payload, ...entry, resolve, reject });
      this.loop.submitted();
    });
  }

  // BatchQueue: what the loop reads and takes.

  get size(): number {
    return this.queue.length;
  }

  expire(now: number, timeout: (detail: string) => InferaError): number {
    let next = Infinity;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const p = this.queue[i];
      if (p.deadline > now) next = Math.min(next, p.deadline);
      else {
        this.queue.splice(i, 1);
        p.reject(timeout(`waited ${Math.round(now - p.enqueuedAt)} ms`));
      }
    }
    return next;
  }

  candidates(): readonly QueuedView[] {
    return this.queue;
  }

  take(count: number): Pending<T, R>[] {
    return this.queue.splice(0, count);
  }

  async run(batch: Pending<T, R>[]): Promise<boolean> {
    try {
      const results = await this.opts.execute(batch.map((p) => p.payload));
      if (results.length !== batch.length) throw new Error(`backend returned ${results.length} results for ${batch.length} requests`);
      batch.forEach((p, i) => p.resolve(results[i]));
      return true;
    } catch (e) {
      if (batch.length > 1 && e instanceof InferaError && e.code === 'ENG_ERR_MODEL_REJECTED_INPUT') await this.isolate(batch);
      else batch.forEach((p) => p.reject(e));
      return false;
    }
  }

  clear(shutdown: () => InferaError): void {
    for (const p of this.queue.splice(0)) p.reject(shutdown());
  }

  /**
   * The model refused a batch: run its requests one by one, so that the one whose input the
   * graph cannot take fails alone and its neighbours are answered.
   */
  private async isolate(batch: Pending<T, R>[]): Promise<void> {
    for (const p of batch) {
      try {
        const [r] = await this.opts.execute([p.payload]);
        p.resolve(r);
      } catch (e) {
        p.reject(e);
      }
    }
  }

  /** Rejects everything still queued; in-flight batches finish. */
  close(): void {
    this.loop.close();
  }

  /** Resolves when nothing is queued or running. */
  drained(): Promise<void> {
    return this.loop.drained();
  }
}
