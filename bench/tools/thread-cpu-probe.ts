/**
 * A preload for A/B runs of one server build against another: per measurement, the CPU time
 * of the event loop's thread and of all the process's threads, and the event-loop delay.
 * Each SIGUSR2 appends one line to /tmp/thread-cpu-probe.<pid> and starts the next measurement.
 *
 *   NODE_OPTIONS="--require $PWD/dist/bench/tools/thread-cpu-probe.js" infera serve ...
 *   kill -USR2 <pid>; (load); kill -USR2 <pid>      # one line per interval
 *
 * `infera serve` re-launches itself with its V8 flags; NODE_OPTIONS reaches the serving child,
 * whose file is the one with load in it. Linux only (/proc/self/task).
 */
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

/** utime + stime of a thread in ms (clock ticks of 10 ms). */
function threadCpuMs(tid: string): number {
  try {
    const f = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0; // the thread ended between the listing and the read
  }
}
const mainCpu = () => threadCpuMs(String(process.pid));
const allCpu = () => fs.readdirSync('/proc/self/task').reduce((n, tid) => n + threadCpuMs(tid), 0);

let since = { wall: Date.now(), main: mainCpu(), all: allCpu() };
process.on('SIGUSR2', () => {
  const now = { wall: Date.now(), main: mainCpu(), all: allCpu() };
  const ms = (ns: number) => (ns / 1e6).toFixed(2);
  fs.appendFileSync(`/tmp/thread-cpu-probe.${process.pid}`,
    `wall_ms ${now.wall - since.wall} loop_thread_cpu_ms ${now.main - since.main} all_threads_cpu_ms ${now.all - since.all} ` +
    `loop_delay_ms p50 ${ms(loop.percentile(50))} p99 ${ms(loop.percentile(99))} p99.9 ${ms(loop.percentile(99.9))} max ${ms(loop.max)}\n`);
  loop.reset();
  since = now;
});
