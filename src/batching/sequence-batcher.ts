import { InferaError } from '../errors';
import { BatchPolicy, QueuedView } from './batch-policy';
import { BatchLoop, BatchQueue, BatcherHooks } from './batch-loop';

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
 *   on without it; if it carried `start`, the next chunk of the sequence starts instead;
 * - with a policy that predicts completion times, a chunk that would miss its objective is
 *   refused at submit (503 ENG_ERR_OVERLOADED): it never ran, so the sequence's state is
 *   unchanged and the client may send it again.
 * State is generic (S): the caller's execute() gathers and scatters it. The loop (when to
 * decide, executors, timers, hold, shedding, draining) is the shared BatchLoop.
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

/** A taken batch: the sequences and their first chunks. */
interface SequenceBatch<P, R, S> {
  seqs: Sequence<P, R, S>[];
  chunks: Chunk<P, R>[];
}

export class SequenceBatcher<P, R, S> implements BatchQueue<SequenceBatch<P, R, S>> {
  private readonly live = new Map<string, Sequence<P, R, S>>();
  /** Sequences with a queued chunk and nothing running. */
  private readonly ready = new Set<Sequence<P, R, S>>();
  /** The order candidates() last offered, for take(). */
  private offered: Sequence<P, R, S>[] = [];
  private queued = 0;
  private serial = 0;
  private readonly sweeper: NodeJS.Timeout;
  private readonly loop: BatchLoop<SequenceBatch<P, R, S>>;

  constructor(private readonly opts: SequenceBatcherOptions<P, R, S>) {
    this.loop = new BatchLoop(this, opts);
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
    return this.loop.running;
  }

  has(key: string): boolean {
    return this.live.has(key);
  }

  /** Test switch: hold dispatch until n chunks are queued; 0 releases. */
  holdUntil(n: number): void {
    this.loop.holdUntil(n);
  }

  /**
   * Queues one chunk of sequence `key` (`label` names it in errors).
   * @throws (rejects) InferaError 400 without `start` on an unknown sequence; 503 when the
   *   queue or the sequence table is full, when it would miss its objective, on timeout and on shutdown.
   */
  submit(key: string, label: string, payload: P, view: { key: string }, flags: SequenceFlags, timeoutMs: number): Promise<R> {
    if (this.loop.closed) return Promise.reject(this.loop.shutdownError());
    let seq = this.live.get(key);
    if ((!seq || seq.closing) && !flags.start) {
      return Promise.reject(new InferaError('ENG_ERR_BAD_REQUEST', `inference request for sequence ${label} to model '${this.opts.model}' must specify the START flag on the first request of the sequence`));
    }
    if (this.queued >= this.opts.maxQueueSize) {
      return Promise.reject(this.loop.reject('queue_full', new InferaError('ENG_ERR_QUEUE_FULL', `${this.queued} sequence requests waiting`, { retryAfterS: 1 })));
    }
    if (!seq && this.live.size >= this.opts.maxSequences) {
      return Promise.reject(this.loop.reject('queue_full', new InferaError('ENG_ERR_QUEUE_FULL', `${this.live.size} sequences are live (max_sequences)`, { retryAfterS: 1 })));
    }
    const now = this.loop.now();
    const entry = { rows: 1, key: view.key, enqueuedAt: now, deadline: now + timeoutMs };
    // Ahead of this chunk: every chunk queued before it (one batch takes one chunk per sequence,
    // so this overstates the wait only when one sequence has many chunks queued).
    const refused = this.loop.admit(entry, () => this.queuedChunks());
    if (refused) return Promise.reject(refused);
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
    return new Promise<R>((resolve, reject) => {
      s.queue.push({ payload, ...entry, serial: this.serial++, start, resolve, reject });
      this.queued += 1;
      if (!s.running) this.ready.add(s);
      this.loop.submitted();
    });
  }

  private queuedChunks(): QueuedView[] {
    const out: Chunk<P, R>[] = [];
    for (const seq of this.live.values()) out.push(...seq.queue);
    return out.sort((a, b) => a.serial - b.serial);
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
    const now = this.loop.now();
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

  // BatchQueue: what the loop reads and takes.

  get size(): number {
    return this.queued;
  }

  expire(now: number, timeout: (detail: string) => InferaError): number {
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
        c.reject(timeout(`sequence ${seq.label}: waited ${Math.round(now - c.enqueuedAt)} ms`));
      }
      if (q.length === 0) this.settle(seq);
    }
    return next;
  }

  /**
   * "Oldest": each ready sequence offers its first chunk, oldest first. The loop calls take()
   * right after candidates() with nothing in between, so take() reuses this order.
   */
  candidates(): readonly QueuedView[] {
    this.offered = [...this.ready].sort((a, b) => a.queue[0].serial - b.queue[0].serial);
    return this.offered.map((s) => s.queue[0]);
  }

  take(count: number): SequenceBatch<P, R, S> {
    const seqs = this.offered.slice(0, count);
    this.offered = [];
    const chunks = seqs.map((s) => {
      s.running = true;
      this.ready.delete(s);
      this.queued -= 1;
      return s.queue.shift()!;
    });
    return { seqs, chunks };
  }

  async run({ seqs, chunks }: SequenceBatch<P, R, S>): Promise<boolean> {
    // Sequences are settled (released after `end`) before their callers hear back.
    const finish = () => {
      const now = this.loop.now();
      for (const s of seqs) {
        s.running = false;
        s.lastSeen = now;
        this.settle(s);
      }
    };
    let results: { result: R; state: S }[];
    try {
      results = await this.opts.execute(chunks.map((c, i) => ({ payload: c.payload, state: c.start ? null : seqs[i].state })));
      if (results.length !== chunks.length) throw new Error(`backend returned ${results.length} results for ${chunks.length} sequences`);
    } catch (e) {
      finish();
      chunks.forEach((c) => c.reject(e));
      return false;
    }
    seqs.forEach((s, i) => {
      if (this.live.get(s.key) === s) s.state = results[i].state;
    });
    finish();
    chunks.forEach((c, i) => c.resolve(results[i].result));
    return true;
  }

  clear(shutdown: () => InferaError): void {
    for (const seq of [...this.live.values()]) {
      this.drop(seq);
      for (const c of seq.queue.splice(0)) {
        this.queued -= 1;
        c.reject(shutdown());
      }
    }
  }

  /** Rejects every queued chunk and drops every sequence; running batches finish. */
  close(): void {
    clearInterval(this.sweeper);
    this.loop.close();
  }

  drained(): Promise<void> {
    return this.loop.drained();
  }
}
