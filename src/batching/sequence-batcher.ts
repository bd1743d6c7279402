import { InferaError } from '../errors';
import { BatchPolicy, QueuedView, RunningView } from './batch-policy';
import type { BatcherHooks } from './dynamic-batcher';

/**
 * Sequence batching for stateful models, after Triton's sequence batcher with the
 * "oldest" strategy and implicit state:
 * - each sequence (a correlation id) has its own FIFO of one-row chunks and its state
 *   (null = the initial state, e.g. zeros), held here between requests;
 * - a tick offers the policy one candidate per sequence, its oldest chunk, ordered by
 *   arrival, so one batch never holds two chunks of a sequence and a sequence whose
 *   chunk is running waits for its new state (order inside a sequence is kept);
 * - a chunk flagged `start` runs on the initial state; after a chunk flagged `end`
 *   runs, the sequence is released. A chunk for an unknown (or ended) sequence must
 *   carry `start` (400); a sequence idle for idleTimeoutMs is released;
 * - a chunk whose timeout passes in the queue is rejected (503) and the sequence goes
 *   on without it; if it carried `start`, the next chunk of the sequence starts instead.
 * State is generic (S): the caller's execute() gathers and scatters it.
 */
export interface SequenceFlags {
  start: boolean;
  end: boolean;
  /** Released by its owner only (a streaming connection), never by the idle timeout. */
  owned?: boolean;
}

export interface SequenceItem<P, S> {
  payload: P;
  /** null: the sequence starts here, use the initial state. */
  state: S | null;
}

export interface SequenceBatcherOptions<P, R, S> {
  /** For error messages. */
  model: string;
  policy: BatchPolicy;
  /** Chunks queued over all sequences. */
  maxQueueSize: number;
  maxSequences: number;
  idleTimeoutMs: number;
  maxInFlight: number;
  /** Runs one batch (one chunk per sequence) and returns each chunk's result and new state, in order. */
  execute: (items: SequenceItem<P, S>[]) => Promise<{ result: R; state: S }[]>;
  now?: () => number;
  hooks?: BatcherHooks & { onSequences?(live: number): void };
}

interface Chunk<P, R> extends QueuedView {
  payload: P;
  deadline: number;
  serial: number;
  start: boolean;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

interface Sequence<P, R, S> {
  key: string;
  label: string;
  state: S | null;
  queue: Chunk<P, R>[];
  running: boolean;
  /** The last accepted chunk carried `end`: a further chunk must start anew. */
  closing: boolean;
  /** A start chunk expired with no chunk behind it: the next one starts. */
  restartNext: boolean;
  owned: boolean;
  lastSeen: number;
}

export class SequenceBatcher<P, R, S> {
  private readonly live = new Map<string, Sequence<P, R, S>>();
  /** Sequences with a queued chunk and nothing running. */
  private readonly ready = new Set<Sequence<P, R, S>>();
  private readonly runningBatches = new Set<RunningView>();
  private queued = 0;
  private inFlight = 0;
  private serial = 0;
  private held = 0;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly opts: SequenceBatcherOptions<P, R, S>) {
    this.now = opts.now ?? (() => performance.now());
    this.sweeper = setInterval(() => this.sweep(), Math.min(5000, Math.max(50, opts.idleTimeoutMs / 4)));
    this.sweeper.unref();
  }

  /** Live sequences (holding state). */
  get sequences(): number {
    return this.live.size;
  }

  get pending(): number {
    return this.queued;
  }

  get running(): number {
    return this.inFlight;
  }

  has(key: string): boolean {
    return this.live.has(key);
  }

  /** Test switch: hold dispatch until n chunks are queued; 0 releases. */
  holdUntil(n: number): void {
    this.held = n;
    this.pump();
  }

  /**
   * Queues one chunk of sequence `key` (`label` names it in errors).
   * @throws (rejects) InferaError 400 without `start` on an unknown sequence; 503 when the
   *   queue or the sequence table is full, on timeout and on shutdown.
   */
  submit(key: string, label: string, payload: P, view: { key: string }, flags: SequenceFlags, timeoutMs: number): Promise<R> {
    if (this.closed) return Promise.reject(this.fail('shutdown', new InferaError('ENG_ERR_SHUTTING_DOWN')));
    let seq = this.live.get(key);
    if ((!seq || seq.closing) && !flags.start) {
      return Promise.reject(new InferaError('ENG_ERR_BAD_REQUEST', `inference request for sequence ${label} to model '${this.opts.model}' must specify the START flag on the first request of the sequence`));
    }
    if (this.queued >= this.opts.maxQueueSize) {
      return Promise.reject(this.fail('queue_full', new InferaError('ENG_ERR_QUEUE_FULL', `${this.queued} sequence requests waiting`, { retryAfterS: 1 })));
    }
    if (!seq && this.live.size >= this.opts.maxSequences) {
      return Promise.reject(this.fail('queue_full', new InferaError('ENG_ERR_QUEUE_FULL', `${this.live.size} sequences are live (max_sequences)`, { retryAfterS: 1 })));
    }
    const now = this.now();
    if (!seq) {
      seq = { key, label, state: null, queue: [], running: false, closing: false, restartNext: false, owned: flags.owned === true, lastSeen: now };
      this.live.set(key, seq);
      this.opts.hooks?.onSequences?.(this.live.size);
    }
    const s = seq;
    const start = flags.start || s.restartNext;
    s.restartNext = false;
    s.closing = flags.end;
    s.lastSeen = now;
    this.opts.policy.observeArrival?.(now);
    return new Promise<R>((resolve, reject) => {
      s.queue.push({ payload, rows: 1, key: view.key, enqueuedAt: now, deadline: now + timeoutMs, serial: this.serial++, start, resolve, reject });
      this.queued += 1;
      if (!s.running) this.ready.add(s);
      this.pump();
    });
  }

  /** No more chunks for `key`: release it once its queued chunks ran. */
  end(key: string): void {
    const seq = this.live.get(key);
    if (!seq) return;
    seq.closing = true;
    this.settle(seq);
  }

  /** Drops a sequence now: its state is freed, queued chunks are rejected, a running one's result is discarded. */
  release(key: string): boolean {
    const seq = this.live.get(key);
    if (!seq) return false;
    this.drop(seq);
    for (const c of seq.queue.splice(0)) {
      this.queued -= 1;
      c.reject(new InferaError('ENG_ERR_BAD_REQUEST', `sequence ${seq.label} was released`));
    }
    return true;
  }

  /** Releases sequences idle for idleTimeoutMs (also runs on a timer). */
  sweep(): void {
    const now = this.now();
    for (const seq of [...this.live.values()]) {
      if (!seq.owned && !seq.running && seq.queue.length === 0 && now - seq.lastSeen >= this.opts.idleTimeoutMs) this.drop(seq);
    }
  }

  private drop(seq: Sequence<P, R, S>): void {
    if (this.live.get(seq.key) !== seq) return;
    this.live.delete(seq.key);
    this.ready.delete(seq);
    seq.state = null;
    this.opts.hooks?.onSequences?.(this.live.size);
  }

  /** After a chunk left `seq`: ready again, or released when it ended. */
  private settle(seq: Sequence<P, R, S>): void {
    if (this.live.get(seq.key) !== seq || seq.running) return;
    if (seq.queue.length > 0) this.ready.add(seq);
    else {
      this.ready.delete(seq);
      if (seq.closing) this.drop(seq);
    }
  }

  private fail(reason: 'queue_full' | 'timeout' | 'shutdown', e: InferaError): InferaError {
    this.opts.hooks?.onReject?.(reason);
    return e;
  }

  private expire(now: number): number {
    let next = Infinity;
    for (const seq of this.live.values()) {
      const q = seq.queue;
      for (let i = q.length - 1; i >= 0; i--) {
        const c = q[i];
        if (c.deadline > now) {
          next = Math.min(next, c.deadline);
          continue;
        }
        q.splice(i, 1);
        this.queued -= 1;
        if (c.start) {
          if (i < q.length) q[i].start = true;
          else seq.restartNext = true;
        }
        c.reject(this.fail('timeout', new InferaError('ENG_ERR_TIMEOUT', `sequence ${seq.label}: waited ${Math.round(now - c.enqueuedAt)} ms`, { retryAfterS: 1 })));
      }
      if (q.length === 0) this.settle(seq);
    }
    return next;
  }

  private pump(): void {
    const now = this.now();
    const nextDeadline = this.expire(now);
    if (this.queued > 0 && Number.isFinite(nextDeadline)) this.arm(nextDeadline);
    if (this.held > 0 && this.queued < this.held) return;
    this.held = 0;
    while (this.inFlight < this.opts.maxInFlight && this.ready.size > 0) {
      // "Oldest": each ready sequence offers its first chunk, oldest first.
      const candidates = [...this.ready].sort((a, b) => a.queue[0].serial - b.queue[0].serial);
      const d = this.opts.policy.decide(candidates.map((s) => s.queue[0]), now);
      if (d.kind === 'idle') break;
      if (d.kind === 'wait') {
        this.arm(now + d.waitMs);
        break;
      }
      this.dispatch(candidates.slice(0, d.count));
    }
  }

  private arm(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, at - this.now()));
  }

  private dispatch(seqs: Sequence<P, R, S>[]): void {
    const chunks = seqs.map((s) => {
      s.running = true;
      this.ready.delete(s);
      this.queued -= 1;
      return s.queue.shift()!;
    });
    this.inFlight += 1;
    const running: RunningView = { rows: seqs.length, startedAt: this.now() };
    this.runningBatches.add(running);
    this.opts.hooks?.onBatch?.(seqs.length, seqs.length);
    // Sequences are settled (released after `end`) before their callers hear back.
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.inFlight -= 1;
      this.runningBatches.delete(running);
      const now = this.now();
      for (const s of seqs) {
        s.running = false;
        s.lastSeen = now;
        this.settle(s);
      }
    };
    this.opts
      .execute(chunks.map((c, i) => ({ payload: c.payload, state: c.start ? null : seqs[i].state })))
      .then((results) => {
        if (results.length !== chunks.length) throw new Error(`backend returned ${results.length} results for ${chunks.length} sequences`);
        this.opts.policy.observeBatch?.(seqs.length, this.now() - running.startedAt);
        seqs.forEach((s, i) => {
          if (this.live.get(s.key) === s) s.state = results[i].state;
        });
        finish();
        chunks.forEach((c, i) => c.resolve(results[i].result));
      })
      .catch((e) => {
        finish();
        chunks.forEach((c) => c.reject(e));
      })
      .finally(() => this.pump());
  }

  /** Rejects every queued chunk and drops every sequence; running batches finish. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const seq of [...this.live.values()]) {
      this.drop(seq);
      for (const c of seq.queue.splice(0)) {
        this.queued -= 1;
        c.reject(this.fail('shutdown', new InferaError('ENG_ERR_SHUTTING_DOWN')));
      }
    }
  }

  async drained(): Promise<void> {
    while (this.queued > 0 || this.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  }
}
