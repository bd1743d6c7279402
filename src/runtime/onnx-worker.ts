/**
 * Piscina worker: owns its own onnxruntime sessions. session.run is a
 * synchronous native call in onnxruntime-node, so it must never run on the
 * server's event loop; here it blocks only this worker.
 */
import * as ort from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { DATATYPES, fromOrtType, TypedArray } from '../protocol/datatypes';
import { MODEL_RUN_FAILED, type TensorMetadata } from './backend';

export interface WireTensor {
  name: string;
  datatype: keyof typeof DATATYPES;
  shape: number[];
  data: TypedArray;
}

export type WorkerTask =
  | { op: 'load'; key: string; path: string; intraOpThreads: number; epoch: number; live: string[] }
  | { op: 'run'; key: string; path: string; intraOpThreads: number; epoch: number; live: string[]; inputs: WireTensor[]; outputs: string[] };

const sessions = new Map<string, Promise<ort.InferenceSession>>();
let knownEpoch = 0;

function session(key: string, path: string, intraOpThreads: number): Promise<ort.InferenceSession> {
  let s = sessions.get(key);
  if (!s) {
    s = ort.InferenceSession.create(path, {
      intraOpNumThreads: intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    sessions.set(key, s);
    s.catch(() => sessions.delete(key));
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
      s.then((x) => x.release()).catch(() => undefined);
    }
  }
}

function metadataOf(list: readonly ort.InferenceSession.ValueMetadata[]): TensorMetadata[] {
  return list.map((m) => {
    if (!m.isTensor) return { name: m.name, datatype: 'FP32', shape: null };
    const datatype = fromOrtType(m.type);
    if (!datatype) throw new Error(`tensor '${m.name}' has type ${m.type}, which Infera does not serve`);
    return { name: m.name, datatype, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
  });
}

export default async function handle(task: WorkerTask): Promise<unknown> {
  evict(task.epoch, task.live);
  const s = await session(task.key, task.path, task.intraOpThreads);
  if (task.op === 'load') {
    return { inputs: metadataOf(s.inputMetadata), outputs: metadataOf(s.outputMetadata) };
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of task.inputs) {
    feeds[t.name] = new ort.Tensor(DATATYPES[t.datatype].ort as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.shape);
  }
  let result: ort.InferenceSession.OnnxValueMapType;
  try {
    result = await s.run(feeds, task.outputs);
  } catch (e) {
    // The graph refused these inputs (a shape its operators cannot take): the request's fault.
    throw new Error(`${MODEL_RUN_FAILED}${(e as Error).message}`);
  }
  const tensors: WireTensor[] = task.outputs.map((name) => {
    const out = result[name];
    const datatype = fromOrtType(out.type);
    if (!datatype) throw new Error(`output '${name}' has type ${out.type}, which Infera does not serve`);
    return { name, datatype, shape: [...out.dims], data: out.data as TypedArray };
  });
  return move(transferable(tensors) as Parameters<typeof move>[0]);
}

/** Hands the output buffers to the main thread instead of copying them. */
function transferable(tensors: WireTensor[]): object {
  const buffers = new Set<ArrayBuffer>();
  for (const t of tensors) {
    const b = t.data.buffer;
    if (b instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === b.byteLength) buffers.add(b);
  }
  return {
    get [transferableSymbol]() {
      return [...buffers];
    },
    get [valueSymbol]() {
      return tensors;
    },
  };
}
