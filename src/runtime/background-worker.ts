/**
 * Piscina worker of the background runner (background-runner.ts): one thread at idle CPU
 * priority that runs best-effort work — shadow traffic — on its own copies of the model
 * versions, so that the event loop spends on it only the messages in and out.
 *
 * The thread moves itself to SCHED_IDLE when the module loads: it then runs only on CPU time
 * no serving thread wants, and a serving thread that wakes up takes the core back at once.
 */
import { setThreadIdlePriority } from '../native/binding';
import type { ModelConfig } from '../config/model-config';
import type { FeatureSpec } from '../features/feature-spec';
import { loadFeatureSpec } from '../features/feature-spec';
import { featuresToInputs } from '../protocol/predict-codec';
import type { Tensor } from '../protocol/datatypes';
import { NativeBackend } from './native-backend';
import { OrtSession, type PlainTensor } from './ort-session';
import { movedAnswer } from './worker-transfer';

/** What the worker needs to open a model version on its own (the paths the repository resolved). */
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
  | { op: 'priority' }
  /** Runs each request on its own (best-effort; the loop posts them together). */
  | { op: 'run'; model: BackgroundModel; requests: PlainTensor[][]; outputs: string[] }
  /** /predict rows: the version's feature transform, then one run per `maxBatchRows` rows. */
  | { op: 'predict'; model: BackgroundModel; rows: Record<string, unknown>[]; output: string; maxBatchRows: number };

interface Opened {
  run(inputs: PlainTensor[], outputs: string[]): Promise<PlainTensor[]> | PlainTensor[];
  spec?: FeatureSpec;
  release(): void;
}

const priority = setThreadIdlePriority();
/** Versions opened here, least recently used first; a few at most (the candidates being shadowed). */
const opened = new Map<string, Opened>();
export const MAX_OPEN_VERSIONS = 4;

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
      // 'inline': the addon's synchronous run, on this thread.
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
  return o;
}

export default async function handle(task: BackgroundTask): Promise<unknown> {
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
    return movedAnswer(answers, answers.flatMap((a) => a.outputs ?? []));
  }
  const parts: PlainTensor[] = [];
  for (let i = 0; i < task.rows.length; i += task.maxBatchRows) {
    const { inputs } = featuresToInputs(task.model.config, task.rows.slice(i, i + task.maxBatchRows), o.spec);
    parts.push((await o.run(inputs, [task.output]))[0]);
  }
  return movedAnswer(parts, parts);
}
