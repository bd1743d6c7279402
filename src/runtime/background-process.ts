/**
 * The background runner's child process (background-runner.ts): best-effort work — shadow
 * traffic — on its own copies of the model versions, with every thread of the process at idle
 * CPU priority (Linux SCHED_IDLE). It runs only on CPU time no serving thread wants, and a
 * serving thread that wakes up takes the core back at once.
 *
 * A process, not a worker thread, because of what was measured (bench/README.md, "Stop 31"):
 * with the same runs on an idle-priority worker thread of the server, stable's p50 rose by
 * 20–60 µs and its p90 doubled at half of capacity on one core, and the thread's bare message
 * round trip (no rows, no model) already cost most of that; an idle-priority process doing the
 * same runs, or burning CPU and memory on the same core, left both where they were.
 *
 * Protocol (Node's IPC channel, V8 serialization): the parent sends {id, task}, this process
 * answers {id, value} or {id, error}, one task at a time in arrival order.
 */
import fs from 'node:fs';
import { setThreadPolicy } from '../native/binding';
import type { ModelConfig } from '../config/model-config';
import type { FeatureSpec } from '../features/feature-spec';
import { loadFeatureSpec } from '../features/feature-spec';
import { featuresToInputs } from '../protocol/predict-codec';
import type { Tensor } from '../protocol/datatypes';
import { NativeBackend } from './native-backend';
import { OrtSession, type PlainTensor } from './ort-session';

/** What the process needs to open a model version on its own (the paths the repository resolved). */
export interface BackgroundModel {
  /** The serving version's backend key (unique per load of the version). */
  key: string;
  backend: 'native' | 'onnxruntime';
  modelPath: string;
  precision?: 'fp32' | 'int8';
  /** The version's config, for /predict rows (the predict section, input shapes, fills). */
  config: ModelConfig;
  featureSpecPath?: string;
}

export type BackgroundTask =
  /** Whether every thread of the process runs at idle priority, or why not. */
  | { op: 'priority' }
  /** Runs each request on its own (best-effort; the parent sends them together). */
  | { op: 'run'; model: BackgroundModel; requests: PlainTensor[][]; outputs: string[] }
  /** /predict rows: the version's feature transform, then one run per `maxBatchRows` rows. */
  | { op: 'predict'; model: BackgroundModel; rows: Record<string, unknown>[]; output: string; maxBatchRows: number };

/** One message each way on the IPC channel. */
export interface BackgroundRequest {
  id: number;
  task: BackgroundTask;
}
export interface BackgroundReply {
  id: number;
  value?: unknown;
  error?: string;
}

interface Opened {
  run(inputs: PlainTensor[], outputs: string[]): Promise<PlainTensor[]> | PlainTensor[];
  spec?: FeatureSpec;
  release(): void;
}

/** Versions opened here, least recently used first; a few at most (the candidates being shadowed). */
const opened = new Map<string, Opened>();
export const MAX_OPEN_VERSIONS = 4;

/**
 * Moves every thread of this process to SCHED_IDLE. Linux schedules threads, and a thread
 * inherits its creator's policy: called at start (Node's and V8's threads) and after a version
 * opens (a runtime may start threads of its own).
 */
export function idleProcess(): { ok: boolean; reason?: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'SCHED_IDLE is Linux only' };
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const r = setThreadPolicy(Number(tid), true);
    // A thread that ended between the listing and the call is no failure.
    if (!r.ok && fs.existsSync(`/proc/self/task/${tid}`)) return r;
  }
  return { ok: true };
}

async function open(m: BackgroundModel): Promise<Opened> {
  let o = opened.get(m.key);
  if (o) {
    opened.delete(m.key);
    opened.set(m.key, o);
    return o;
  }
  if (m.backend === 'native') {
    const native = new NativeBackend();
    await native.load(m.key, m.modelPath, { intraOpThreads: 1, precision: m.precision });
    o = {
      // 'inline': the addon's synchronous run, on this process's main thread.
      run: (inputs, outputs) => native.run(m.key, inputs as Tensor[], outputs, { site: 'inline' }),
      release: () => void native.unload(m.key),
    };
  } else {
    const session = OrtSession.create(m.modelPath, 1);
    o = { run: (inputs, outputs) => session.run(inputs, outputs), release: () => session.release() };
  }
  if (m.featureSpecPath) o.spec = loadFeatureSpec(m.featureSpecPath);
  opened.set(m.key, o);
  while (opened.size > MAX_OPEN_VERSIONS) {
    const [oldest, v] = opened.entries().next().value as [string, Opened];
    opened.delete(oldest);
    v.release();
  }
  priority = idleProcess();
  return o;
}

let priority: { ok: boolean; reason?: string } = { ok: false, reason: 'not started' };

export async function handle(task: BackgroundTask): Promise<unknown> {
  if (task.op === 'priority') return priority;
  const o = await open(task.model);
  if (task.op === 'run') {
    // One answer per request: its outputs, or the message of its failure.
    const answers: { outputs?: PlainTensor[]; error?: string }[] = [];
    for (const inputs of task.requests) {
      try {
        answers.push({ outputs: await o.run(inputs, task.outputs) });
      } catch (e) {
        answers.push({ error: (e as Error).message });
      }
    }
    return answers;
  }
  const parts: PlainTensor[] = [];
  for (let i = 0; i < task.rows.length; i += task.maxBatchRows) {
    const { inputs } = featuresToInputs(task.model.config, task.rows.slice(i, i + task.maxBatchRows), o.spec);
    parts.push((await o.run(inputs, [task.output]))[0]);
  }
  return parts;
}

/** The child's main: one task at a time, in arrival order; gone with its parent. */
function serve(): void {
  priority = idleProcess();
  let queue = Promise.resolve();
  process.on('message', (m: BackgroundRequest) => {
    queue = queue.then(async () => {
      let reply: BackgroundReply;
      try {
        reply = { id: m.id, value: await handle(m.task) };
      } catch (e) {
        reply = { id: m.id, error: (e as Error).message };
      }
      // The channel may be closing (parent shutting down): nothing left to answer to.
      if (process.connected) process.send!(reply, undefined, undefined, () => undefined);
    });
  });
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module && process.send) serve();
