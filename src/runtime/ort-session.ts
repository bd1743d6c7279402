/**
 * One onnxruntime-node session and the one way Infera runs it, shared by the pool's workers
 * and the inline path on the event loop.
 *
 * Sessions are the package's native binding (`onnxruntime-node/dist/binding`, "a simple
 * synchronized inference session object wrap") rather than its public InferenceSession, whose
 * run() only calls the same synchronous native run behind a setImmediate: every batch then
 * waited one more turn of the event loop, behind whatever I/O that turn brought. Measured on one
 * core, /predict open loop at 11k req/s (about half of capacity): p50 0.30–0.32 → 0.21 ms, p90
 * 0.83–0.89 → 0.65–0.66 ms, closed-loop req/s unchanged (bench/README.md, stop 25). The binding
 * is internal to onnxruntime-node, whose version is pinned in package.json; the ORT tests
 * (every inference test) fail if it changes shape.
 */
import * as ort from 'onnxruntime-node';
import { binding, initOrt, type Binding } from 'onnxruntime-node/dist/binding';
import { DataType, TensorData, fromOrtType, ortType } from '../protocol/datatypes';
import { MODEL_RUN_FAILED, TensorMetadata } from './backend';

export interface PlainTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: TensorData;
}

/** The binding's element type numbers (ONNX TensorProto.DataType) → onnxruntime's type names. */
const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};

function metadataOf(list: readonly Binding.ValueMetadata[]): TensorMetadata[] {
  return list.map((m) => {
    if (!m.isTensor) return { name: m.name, datatype: 'FP32', shape: null };
    const datatype = fromOrtType(ELEMENT_TYPES[m.type] ?? '');
    if (!datatype) throw new Error(`tensor '${m.name}' has element type ${m.type}, which Infera does not serve`);
    return { name: m.name, datatype, shape: m.shape.map((d) => (d >= 0 ? d : -1)) };
  });
}

export class OrtSession {
  readonly inputs: TensorMetadata[];
  readonly outputs: TensorMetadata[];

  private constructor(private readonly native: Binding.InferenceSession) {
    this.inputs = metadataOf(native.inputMetadata);
    this.outputs = metadataOf(native.outputMetadata);
  }

  /** Loads the model on this thread (onnxruntime-node's create() does the same, synchronously). */
  static create(path: string, intraOpThreads: number): OrtSession {
    initOrt();
    const native = new binding.InferenceSession();
    native.loadModel(path, { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    return new OrtSession(native);
  }

  /**
   * Runs a batch now, on this thread. Inputs are read in place (views, no copy); outputs are
   * onnxruntime's buffers.
   * @throws Error whose message starts with MODEL_RUN_FAILED when the graph refuses the inputs.
   */
  run(inputs: readonly PlainTensor[], outputs: readonly string[]): PlainTensor[] {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) feeds[t.name] = new ort.Tensor(ortType(t.datatype) as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.shape);
    const fetches: Record<string, null> = {};
    for (const name of outputs) fetches[name] = null;
    let result: Record<string, ort.OnnxValue>;
    try {
      result = this.native.run(feeds, fetches, {});
    } catch (e) {
      // The graph refused these inputs (a shape its operators cannot take): the request's fault.
      throw new Error(`${MODEL_RUN_FAILED}${(e as Error).message}`);
    }
    return outputs.map((name) => {
      const out = result[name] as ort.Tensor;
      const datatype = fromOrtType(out.type);
      if (!datatype) throw new Error(`output '${name}' has type ${out.type}, which Infera does not serve`);
      return { name, datatype, shape: [...out.dims], data: out.data as TensorData };
    });
  }

  release(): void {
    this.native.dispose();
  }
}
