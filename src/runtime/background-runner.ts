/**
 * Best-effort model runs off the serving path: one child process whose every thread runs at
 * idle CPU priority (background-process.ts), with its own copies of the versions it runs.
 * Shadow traffic runs here (src/rollout/shadow-queue.ts): stable's requests never wait for a
 * candidate's compute, on any number of cores — on a busy core the candidate gets only the
 * time serving leaves.
 *
 * Measured reasons: on the event loop, the candidate's batches raised stable's p99 2.7–2.9× at
 * half of capacity on one core; at normal priority on another thread, 20–388 ms ("Stop 28:
 * shadow at idle priority"); at idle priority on a worker thread of this process, stable's p50
 * still rose 20–60 µs and its p90 doubled, a cost of sharing the process that a separate
 * idle-priority process does not have ("Stop 31", bench/README.md).
 *
 * The process starts on first use. If it exits, the calls waiting on it fail (shadow runs are
 * counted as errors, never seen by a client) and the next call starts a new one, at most once
 * per `restartGapMs`; sooner, calls fail at once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ModelConfig } from '../config/model-config';
import type { Tensor } from '../protocol/datatypes';
import type { BackgroundModel, BackgroundReply, BackgroundRequest, BackgroundTask } from './background-process';
import type { PlainTensor } from './ort-session';

/** What the runner needs of a served version. */
export interface BackgroundVersion {
  key: string;
  config: ModelConfig;
  modelPath?: string;
  featureSpecPath?: string;
}

export interface RunAnswer {
  outputs?: Tensor[];
  error?: string;
}

export interface BackgroundRunnerOptions {
  /** Learns the process's priority once it runs (idle, or why not); again after a restart. */
  onStart?: (priority: { ok: boolean; reason?: string }) => void;
  /** Least time between two starts of the process (default 10 s): a crash loop costs the loop a fork each time. */
  restartGapMs?: number;
}

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (e: Error) => void;
}

export class BackgroundRunner {
  private child: ChildProcess | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private lastStart = -Infinity;
  private closed = false;

  constructor(private readonly opts: BackgroundRunnerOptions = {}) {}

  /** The process's id while it runs (tests read its threads' policies in /proc). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether every thread of the process runs at idle priority (SCHED_IDLE), or why not. */
  priority(): Promise<{ ok: boolean; reason?: string }> {
    return this.call(() => ({ op: 'priority' })) as Promise<{ ok: boolean; reason?: string }>;
  }

  // run() and predict() serialize their arguments before they return and keep no reference:
  // not async functions, whose suspended frames would hold the rows until the answer.

  /** Runs each request's inputs; one answer per request. */
  run(v: BackgroundVersion, requests: Tensor[][], outputs: string[]): Promise<RunAnswer[]> {
    return this.call(() => ({ op: 'run', model: modelOf(v), requests: requests as PlainTensor[][], outputs })) as Promise<RunAnswer[]>;
  }

  /** /predict rows through the version's feature transform and model: the output tensor of each run of at most maxBatchRows rows. */
  predict(v: BackgroundVersion, rows: Record<string, unknown>[], output: string, maxBatchRows: number): Promise<Tensor[]> {
    return this.call(() => ({ op: 'predict', model: modelOf(v), rows, output, maxBatchRows })) as Promise<Tensor[]>;
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Disconnecting ends the child (it exits with its parent's channel); a kill if it does not.
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  /** Sends the task `makeTask` builds (a throw there rejects the call); settles with the process's answer. */
  private call(makeTask: () => BackgroundTask): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      let task: BackgroundTask;
      try {
        task = makeTask();
        child = this.process();
      } catch (e) {
        reject(e as Error);
        return;
      }
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      this.holdLoop(child);
      const request: BackgroundRequest = { id, task };
      child.send(request, undefined, undefined, (err) => {
        if (err) this.settle({ id, error: `the background process did not take the task: ${err.message}` });
      });
    });
  }

  private process(): ChildProcess {
    if (this.child) return this.child;
    if (this.closed) throw new Error('the background runner is closed');
    const now = performance.now();
    if (now - this.lastStart < (this.opts.restartGapMs ?? 10_000)) throw new Error('the background process exited moments after it started; it restarts on a later call');
    this.lastStart = now;
    const child = fork(path.resolve(__dirname, 'background-process.js'), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: inheritedExecArgv(),
      env: childEnv(),
    });
    this.child = child;
    child.on('message', (m: BackgroundReply) => this.settle(m));
    const gone = (why: string) => {
      if (this.child === child) this.child = null;
      for (const [id] of this.waiting) this.settle({ id, error: `the background process ${why}` });
    };
    child.on('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
    child.on('error', (e) => gone(`failed: ${e.message}`));
    this.holdLoop(child);
    const { onStart } = this.opts;
    if (onStart) this.priority().then(onStart, () => undefined);
    return child;
  }

  private settle(m: BackgroundReply): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (m.error !== undefined) w.reject(new Error(m.error));
    else w.resolve(m.value);
    if (this.child) this.holdLoop(this.child);
  }

  /** The child keeps this process's event loop alive only while a call waits on it. */
  private holdLoop(child: ChildProcess): void {
    if (this.waiting.size > 0) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  }
}

/** The parent's V8 and Node flags, less those that would clash or write files twice (inspector, profilers). */
function inheritedExecArgv(): string[] {
  return process.execArgv.filter((a) => !/^--(inspect|debug|cpu-prof|heap-prof|prof\b)/.test(a));
}

/**
 * The parent's environment, less NODE_UNIQUE_ID: in a `--processes` serving process (a cluster
 * worker) it would make the child start as a cluster worker too.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_UNIQUE_ID;
  return env;
}

function modelOf(v: BackgroundVersion): BackgroundModel {
  if (!v.modelPath) throw new Error(`version ${v.key} has no model file to open in the background`);
  return {
    key: v.key,
    backend: v.config.backend === 'native' ? 'native' : 'onnxruntime',
    modelPath: v.modelPath,
    precision: v.config.precision,
    config: v.config,
    featureSpecPath: v.featureSpecPath,
  };
}
