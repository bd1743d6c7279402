/**
 * The candidate's side of shadow traffic. Shadow runs are best-effort and must not slow
 * stable's answers; they execute off the event loop, in the background runner's process at
 * idle CPU priority (src/runtime/background-runner.ts), and this queue bounds what is sent there:
 * - one run in flight per candidate; what arrives meanwhile waits and then runs together
 *   (one batch, one message each way: a row costs far less in a batch of 30 than alone);
 * - the first request of a batch waits at most `maxDelayMs` for company;
 * - beyond `maxPendingRows` waiting, a request is dropped (and reported), never queued
 *   without bound: when the cores have no time left over, the shadow sheds.
 *
 * Measured (bench/tools/rollout-load.ts, one core, /predict at 50 % of capacity, p99 with
 * shadow ÷ without): every shadowed request run on its own on the event loop as it came, 4.6×
 * (the extra runs pushed the core into overload); batched on the event loop, 2.8×.
 */
export interface ShadowLimits {
  /** Rows run together at most (the candidate's max_batch_size). */
  maxBatchRows: number;
  /** Rows waiting at most; a request that would pass it is dropped. */
  maxPendingRows: number;
  /** Longest wait of a batch's first request before the batch runs (when the server is idle). */
  maxDelayMs: number;
}


export const DEFAULT_SHADOW_DELAY_MS = 5;
export const SHADOW_PENDING_BATCHES = 4;

export class ShadowQueue<T extends { rows: number }> {
  private pending: T[] = [];
  private pendingRows = 0;
  private running = false;
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param run runs one batch; must not throw (it reports its own failures).
   * @param drop called for a request that found the queue full.
   */
  constructor(
    private readonly run: (batch: T[]) => Promise<void>,
    private readonly limits: ShadowLimits,
    private readonly drop: (item: T) => void,
  ) {}

  /** Queues one request's shadow run; false (and `drop` called) when the queue is full. */
  offer(item: T): boolean {
    if (this.pending.length > 0 && this.pendingRows + item.rows > this.limits.maxPendingRows) {
      this.drop(item);
      return false;
    }
    this.pending.push(item);
    this.pendingRows += item.rows;
    if (this.running) return true;
    if (this.pendingRows >= this.limits.maxBatchRows) this.start();
    else this.timer ??= setTimeout(() => this.start(), this.limits.maxDelayMs);
    return true;
  }

  /** Requests waiting (for tests and the status route). */
  get waiting(): number {
    return this.pending.length;
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running || this.pending.length === 0) return;
    // Whole requests up to maxBatchRows; a request larger than that runs alone.
    let rows = 0;
    let n = 0;
    while (n < this.pending.length && (n === 0 || rows + this.pending[n].rows <= this.limits.maxBatchRows)) rows += this.pending[n++].rows;
    const batch = this.pending.splice(0, n);
    this.pendingRows -= rows;
    this.running = true;
    // run() reports its own failures; the catch only keeps a bug there from stopping the queue.
    void this.run(batch).catch(() => undefined).finally(() => {
      this.running = false;
      // Whatever arrived during the run has waited already: run it now.
      if (this.pending.length > 0) this.start();
    });
  }
}

/** What a queue needs of a candidate version. */
interface Candidate {
  name: string;
  version: number;
  config: { max_batch_size: number };
}

/**
 * One queue per candidate version (a reloaded version is a new object, with a new queue);
 * a dropped request releases its version lease and is counted.
 */
export function shadowQueues<K extends Candidate, T extends { rows: number; release: () => void }>(o: {
  run: (version: K, batch: T[]) => Promise<void>;
  dropped: (version: K) => void;
}): (version: K) => ShadowQueue<T> {
  const queues = new WeakMap<K, ShadowQueue<T>>();
  return (version) => {
    let q = queues.get(version);
    if (!q) {
      const drop = (item: T) => {
        item.release();
        o.dropped(version);
      };
      queues.set(version, (q = new ShadowQueue<T>((batch) => o.run(version, batch), shadowLimits(version.config.max_batch_size), drop)));
    }
    return q;
  };
}

/**
 * Rows of one shadow batch at most: a stable request that arrives while it runs waits for it
 * (32 flights-delay rows: about 0.3 ms of transform and run on one core; 8 rows dropped 3 in 4 shadow requests at 50 % load, 64 rows raised stable's p50 more).
 */
export const SHADOW_MAX_BATCH_ROWS = 32;

/** The limits for a candidate whose batches hold at most `maxBatchSize` rows (0: no limit). */
export function shadowLimits(maxBatchSize: number): ShadowLimits {
  const maxBatchRows = maxBatchSize > 0 ? Math.min(maxBatchSize, SHADOW_MAX_BATCH_ROWS) : SHADOW_MAX_BATCH_ROWS;
  return { maxBatchRows, maxPendingRows: SHADOW_PENDING_BATCHES * maxBatchRows, maxDelayMs: DEFAULT_SHADOW_DELAY_MS };
}
