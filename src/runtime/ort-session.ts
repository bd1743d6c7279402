/**
 * One onnxruntime-node session and the one way Infera runs it, shared by the pool's workers
 * and the inline path on the event loop. onnxruntime-node's run() is a synchronous native
 * call (behind a setImmediate): wherever it runs, it blocks that thread for the batch.
 */
import * as ort from 'onnxruntime-node';
import { DataType, TensorData, fromOrtType, ortType } from '../protocol/datatypes';
import { MODEL_RUN_FAILED, TensorMetadata } from './backend';

export interface PlainTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: TensorData;
}

export function createSession(path: string, intraOpThreads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

export function metadataOf(list: readonly ort.InferenceSession.ValueMetadata[]): TensorMetadata[] {
  return list.map((m) => {
    if (!m.isTensor) return { name: m.name, datatype: 'FP32', shape: null };
    const datatype = fromOrtType(m.type);
    if (!datatype) throw new Error(`tensor '${m.name}' has type ${m.type}, which Infera does not serve`);
    return { name: m.name, datatype, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
  });
}

/**
 * Runs a batch. Inputs are read in place (views, no copy); outputs are onnxruntime's buffers.
 * @throws Error whose message starts with MODEL_RUN_FAILED when the graph refuses the inputs.
 */
export async function runSession(s: ort.InferenceSession, inputs: readonly PlainTensor[], outputs: readonly string[]): Promise<PlainTensor[]> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of inputs) feeds[t.name] = new ort.Tensor(ortType(t.datatype) as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.shape);
  let result: ort.InferenceSession.OnnxValueMapType;
  try {
    result = await s.run(feeds, outputs as string[]);
  } catch (e) {
    // The graph refused these inputs (a shape its operators cannot take): the request's fault.
    throw new Error(`${MODEL_RUN_FAILED}${(e as Error).message}`);
  }
  return outputs.map((name) => {
    const out = result[name];
    const datatype = fromOrtType(out.type);
    if (!datatype) throw new Error(`output '${name}' has type ${out.type}, which Infera does not serve`);
    return { name, datatype, shape: [...out.dims], data: out.data as TensorData };
  });
}
