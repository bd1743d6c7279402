/**
 * How busy this thread's event loop has been lately: libuv's event-loop utilisation (the
 * share of wall time spent running callbacks rather than waiting for I/O) over the last
 * ~LOOP_WINDOW_MS. A loop near 1 cannot take more requests; one below it has idle time, so
 * the server is below its capacity whatever a queue looks like after a stall.
 * Sampled lazily: each read keeps a snapshot at most every LOOP_SAMPLE_MS.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export const LOOP_WINDOW_MS = 250;
const LOOP_SAMPLE_MS = 50;

export class LoopLoad {
  private readonly samples: { at: number; elu: EventLoopUtilization }[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Utilisation in [0, 1] since the oldest snapshot within the window (0 before any). */
  busy(): number {
    const at = this.now();
    const elu = performance.eventLoopUtilization();
    const last = this.samples[this.samples.length - 1];
    if (!last || at - last.at >= LOOP_SAMPLE_MS) this.samples.push({ at, elu });
    while (this.samples.length > 1 && at - this.samples[1].at >= LOOP_WINDOW_MS) this.samples.shift();
    const from = this.samples[0];
    if (from.elu === elu) return 0;
    return performance.eventLoopUtilization(elu, from.elu).utilization;
  }
}

/** One per thread: every batcher on this event loop reads the same loop. */
export const loopLoad = new LoopLoad();
