/**
 * Piscina worker: owns its own onnxruntime sessions. session.run is a synchronous native
 * call in onnxruntime-node; here it blocks only this worker. Batches too long to run
 * inline on the event loop come here (src/runtime/execution-site.ts).
 */
import { threadId } from 'node:worker_threads';
import { OrtSession, PlainTensor } from './ort-session';
import { movedAnswer } from './worker-transfer';

export type WireTensor = PlainTensor;

export type WorkerTask =
  | { op: 'load'; key: string; path: string; intraOpThreads: number; epoch: number; live: string[] }
  | { op: 'run'; key: string; path: string; intraOpThreads: number; epoch: number; live: string[]; inputs: WireTensor[]; outputs: string[]; exitWorker?: boolean };

const sessions = new Map<string, OrtSession>();
let knownEpoch = 0;

function session(key: string, path: string, intraOpThreads: number): OrtSession {
  let s = sessions.get(key);
  if (!s) {
    s = OrtSession.create(path, intraOpThreads);
    sessions.set(key, s);
  }
  return s;
}

/** Drops sessions of unloaded versions once the main thread's epoch moves on. */
function evict(epoch: number, live: string[]): void {
  if (epoch === knownEpoch) return;
  knownEpoch = epoch;
  const keep = new Set(live);
  for (const [key, s] of sessions) {
    if (!keep.has(key)) {
      sessions.delete(key);
      s.release();
    }
  }
}

export default async function handle(task: WorkerTask): Promise<unknown> {
  evict(task.epoch, task.live);
  const s = session(task.key, task.path, task.intraOpThreads);
  if (task.op === 'load') {
    return { inputs: s.inputs, outputs: s.outputs };
  }
  // Test switch (OnnxBackend.exitWorkerOnNextRun): the worker dies mid-batch, as a crash would.
  if (task.exitWorker) process.exit(70);
  const tensors = s.run(task.inputs, task.outputs);
  return movedAnswer<WorkerResult>({ tensors, worker: threadId }, tensors);
}

/** What a run task answers: the outputs, and which worker thread ran the batch. */
export interface WorkerResult {
  tensors: WireTensor[];
  worker: number;
}
