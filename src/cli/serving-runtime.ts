import { spawn } from 'node:child_process';

/**
 * The V8 settings `infera serve` runs under, and the re-launch that applies them (V8 reads
 * them at start-up only; set at run time they are ignored or crash).
 *
 * Measured reason (bench/README.md, "The 20–30 ms tail"): pinned to one core, one-chunk VAD
 * at 325 / 650 / 1,300 req/s open loop had p99 6.4 / 11.8 / 18.6 ms with V8's defaults and
 * 1.4 / 2.6 / 4.8 ms with these flags. With the defaults the young generation grows to 16 MiB
 * (scavenges of ~0.9 ms, every ~90 requests) and every scavenge wakes V8's four helper
 * threads, which on a busy core preempt the event loop mid-request (per-thread switch counts:
 * ~320 wake-ups per helper in 6 s, 1,131 involuntary preemptions of the event loop).
 * Single-threaded GC keeps scavenges on the event loop. The semi-space was 1 MiB at first; under
 * load that scavenged every ~3 ms and promoted every in-flight request's objects, so the old
 * generation was compacted every ~330 ms (7 ms pauses). 8 MiB, measured against 1 and 4 MiB
 * (bench/README.md, "Young generation size"): /predict at 64 connections 12.5k → 16.7–17.9k
 * req/s; VAD at 64 connections 3,405 → 3,957 req/s; open-loop VAD p99 at 1,300 / 1,950 / 2,600
 * req/s 6.2 / 10.4 / 39.7 → 2.8 / 3.7 / 6.4 ms; one connection p99 1.85 → 1.11 ms.
 */
export const SERVING_V8_FLAGS = ['--single-threaded-gc', '--max-semi-space-size=8'] as const;

/** Set in the re-launched process; INFERA_NODE_FLAGS (space-separated, may be empty) replaces the flags. */
const APPLIED = 'INFERA_SERVING_FLAGS_APPLIED';

export function servingFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const custom = env.INFERA_NODE_FLAGS;
  return custom === undefined ? [...SERVING_V8_FLAGS] : custom.split(/\s+/).filter(Boolean);
}

/** A child process that runs the serving command under the serving flags: its node arguments and environment. */
export function servingChild(): { execArgv: string[]; env: NodeJS.ProcessEnv } {
  const flags = servingFlags().filter((f) => !process.execArgv.includes(f));
  return { execArgv: [...process.execArgv, ...flags], env: { ...process.env, [APPLIED]: '1' } };
}

/**
 * When this process does not yet run under the serving flags, runs the same command line in a
 * child that does, forwards termination signals to it and exits with its status.
 * @returns true when the child took over (the caller must do nothing more).
 */
export function relaunchWithServingFlags(): boolean {
  const flags = servingFlags();
  if (process.env[APPLIED] === '1' || flags.every((f) => process.execArgv.includes(f))) return false;
  const { execArgv, env } = servingChild();
  const child = spawn(process.execPath, [...execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
  child.on('error', (e) => {
    console.error(`cannot start the server process: ${e.message}`);
    process.exit(1);
  });
  return true;
}
