/**
 * A preload for A/B runs of one server build against another: per measurement, the CPU time
 * of the event loop's thread and of all the process's threads, and the event-loop delay.
 * Each SIGUSR2 appends one line to /tmp/thread-cpu-probe.<pid> and starts the next measurement.
 *
 *   NODE_OPTIONS="--require $PWD/dist/bench/tools/thread-cpu-probe.js" infera serve ...
 *   kill -USR2 <pid>; (load); kill -USR2 <pid>      # one line per interval
 *
 * `infera serve` re-launches itself with its V8 flags; NODE_OPTIONS reaches the serving child,
 * whose file is the one with load in it. Linux only (/proc/<pid>/task/<tid>/schedstat).
 */
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { threadTime } from '../lib/thread-time';

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

// On-CPU ms of the event loop's thread and of all the process's threads (the scheduler's own
// count, bench/lib/thread-time.ts; 0 where /proc has none), with the wall clock.
const reading = () => ({ wall: Date.now(), ...(threadTime(process.pid) ?? { mainMs: 0, allMs: 0 }) });

let since = reading();
process.on('SIGUSR2', () => {
  const now = reading();
  const ms = (ns: number) => (ns / 1e6).toFixed(2);
  fs.appendFileSync(`/tmp/thread-cpu-probe.${process.pid}`,
    `wall_ms ${now.wall - since.wall} loop_thread_cpu_ms ${(now.mainMs - since.mainMs).toFixed(1)} all_threads_cpu_ms ${(now.allMs - since.allMs).toFixed(1)} ` +
    `loop_delay_ms p50 ${ms(loop.percentile(50))} p99 ${ms(loop.percentile(99))} p99.9 ${ms(loop.percentile(99.9))} max ${ms(loop.max)}\n`);
  loop.reset();
  since = now;
});
