/**
 * The candidate's side of shadow traffic. Shadow runs are best-effort and must not slow
 * stable's answers; they execute off the event loop, in the background runner's process at
 * idle CPU priority (src/runtime/background-runner.ts), and this queue bounds what is sent there:
 * - requests are gathered into a batch (one message each way: a row costs far less in a batch
 *   of 30 than alone) for at most `maxDelayMs` or until `maxBatchRows`, then sent at once;
 * - the process queues what it was sent; beyond `maxPendingRows` sent and not yet answered
 *   (or gathering), a request is dropped (and reported), never queued without bound: when the
 *   cores have no time left over, the shadow sheds.
 *
 * Nothing of a request waits on the event loop's heap past its batch's few milliseconds. A
 * queue that held requests until the previous batch came back (under load the idle-priority
 * process answers late) kept them long enough to reach V8's old generation: the serving
 * process then ran a full garbage collection about once a second, with pauses of 2–5 ms and
 * marking steps of up to 6 ms, in shadow rounds only (bench/README.md, "Stop 31").
 *
 * Measured before (bench/tools/rollout-load.ts, one core, /predict at 50 % of capacity, p99 with
 * shadow ÷ without): every shadowed request run on its own on the event loop as it came, 4.6×
 * (the extra runs pushed the core into overload); batched on the event loop, 2.8×.
 */
export interface ShadowLimits {
  /** Rows run together at most (the candidate's max_batch_size). */
  maxBatchRows: number;
  /** Rows sent and not yet answered, or gathering, at most; a request that would pass it is dropped. */
  maxPendingRows: number;
  /** Longest wait of a batch's first request before the batch is sent. */
  maxDelayMs: number;
}

export const DEFAULT_SHADOW_DELAY_MS = 5;
export const SHADOW_PENDING_BATCHES = 4;

export class ShadowQueue<T extends { rows: number }> {
  private gathering: T[] = [];
  private gatheringRows = 0;
  private inFlightRows = 0;
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param run sends one batch and settles when its answers were handled; must not throw (it
   *   reports its own failures). Several may be in flight.
   * @param drop called for a request that found the queue full.
   */
  constructor(
    private readonly run: (batch: T[]) => Promise<void>,
    private readonly limits: ShadowLimits,
    private readonly drop: (item: T) => void,
  ) {}

  /** Queues one request's shadow run; false (and `drop` called) when the queue is full. */
  offer(item: T): boolean {
    if (this.inFlightRows + this.gatheringRows > 0 && this.inFlightRows + this.gatheringRows + item.rows > this.limits.maxPendingRows) {
      this.drop(item);
      return false;
    }
    // Whole requests up to maxBatchRows; a request larger than that goes alone.
    if (this.gatheringRows > 0 && this.gatheringRows + item.rows > this.limits.maxBatchRows) this.send();
    this.gathering.push(item);
    this.gatheringRows += item.rows;
    if (this.gatheringRows >= this.limits.maxBatchRows) this.send();
    else this.timer ??= setTimeout(() => this.send(), this.limits.maxDelayMs);
    return true;
  }

  /** Requests gathering for the next batch (for tests and the status route). */
  get waiting(): number {
    return this.gathering.length;
  }

  /** Rows sent and not yet answered. */
  get inFlight(): number {
    return this.inFlightRows;
  }

  private send(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.gathering.length === 0) return;
    const batch = this.gathering;
    const rows = this.gatheringRows;
    this.gathering = [];
    this.gatheringRows = 0;
    this.inFlightRows += rows;
    // run() reports its own failures; the catch only keeps a bug there from stopping the queue.
    void this.run(batch).catch(() => undefined).finally(() => {
      this.inFlightRows -= rows;
    });
  }
}

/** What a queue needs of a candidate version. */
interface Candidate {
  name: string;
  version: number;
  config: { max_batch_size: number };
  /** Keeps the version loaded until the returned release is called. */
  lease(): () => void;
}

/**
 * One queue per candidate version (a reloaded version is a new object, with a new queue);
 * a batch holds a lease on its version until its answers were handled; a dropped request
 * is counted.
 */
export function shadowQueues<K extends Candidate, T extends { rows: number }>(o: {
  run: (version: K, batch: T[]) => Promise<void>;
  dropped: (version: K) => void;
}): (version: K) => ShadowQueue<T> {
  const queues = new WeakMap<K, ShadowQueue<T>>();
  return (version) => {
    let q = queues.get(version);
    if (!q) {
      const run = (batch: T[]) => {
        const release = version.lease();
        return o.run(version, batch).finally(release);
      };
      queues.set(version, (q = new ShadowQueue<T>(run, shadowLimits(version.config.max_batch_size), () => o.dropped(version))));
    }
    return q;
  };
}

/**
 * Rows of one shadow batch at most (32 flights-delay rows: about 0.3 ms of transform and run on
 * one core; 8 rows dropped 3 in 4 shadow requests at 50 % load, 64 rows raised stable's p50 more
 * when batches ran on the event loop).
 */
export const SHADOW_MAX_BATCH_ROWS = 32;

/** The limits for a candidate whose batches hold at most `maxBatchSize` rows (0: no limit). */
export function shadowLimits(maxBatchSize: number): ShadowLimits {
  const maxBatchRows = maxBatchSize > 0 ? Math.min(maxBatchSize, SHADOW_MAX_BATCH_ROWS) : SHADOW_MAX_BATCH_ROWS;
  return { maxBatchRows, maxPendingRows: SHADOW_PENDING_BATCHES * maxBatchRows, maxDelayMs: DEFAULT_SHADOW_DELAY_MS };
}
