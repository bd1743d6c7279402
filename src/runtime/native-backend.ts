/**
 * The `native` backend: MLP models run by the addon's own executor (native/src/exec/) instead
 * of onnxruntime, in fp32 or int8 (per-output-channel int8 weights, dynamic per-row int8
 * activations). Loading decodes the ONNX file (onnx-model-reader.ts), compiles it
 * (src/runtime/graph-plan.ts; unsupported operators are refused here, naming them) and packs
 * the weights once. run() executes on the libuv thread pool, never on the event loop, and
 * splits large batches into row chunks across the addon's compute threads.
 *
 * Precision, in order: LoadOptions.precision (model.json `precision`), else the file's
 * metadata `infera.precision` (written by `infera quantize`), else fp32.
 */
import fs from 'node:fs';
import { DataType, Tensor } from '../protocol/datatypes';
import { NativeModel, Precision } from '../native/executor';
import { compileGraph, CompiledGraph, PlanTensor } from './graph-plan';
import { Backend, LoadOptions, ModelMetadata, RunOptions, TensorMetadata } from './backend';
import { readOnnxModel } from './onnx-model-reader';

/** ONNX metadata key `infera quantize` sets to 'int8' on the versions it writes. */
export const PRECISION_METADATA_KEY = 'infera.precision';

export interface NativeLoadOptions extends LoadOptions {
  /** model.json `precision`; absent: the file's `infera.precision` metadata, else fp32. */
  precision?: Precision;
}

export interface NativeBackendOptions {
  /** Kernel variants (see kernelInfo()); default 'auto' (the CPU's best). */
  f32Kernel?: string;
  int8Kernel?: string;
}

interface Loaded {
  model: NativeModel;
  graph: CompiledGraph;
}

function metadataOf(t: PlanTensor): TensorMetadata {
  return { name: t.name, datatype: 'FP32' as DataType, shape: t.declared ?? [-1, ...t.dims] };
}

export class NativeBackend implements Backend {
  readonly name = 'native';
  private readonly loaded = new Map<string, Loaded>();

  constructor(private readonly opts: NativeBackendOptions = {}) {}

  /**
   * Loads a model version: decode, compile, pack weights for the chosen precision.
   * @returns the inputs and outputs as the file declares them (all FP32).
   * @throws Error when the file cannot be read or decoded, uses an unsupported operator (named
   *   with its node), or the precision is neither 'fp32' nor 'int8'.
   */
  async load(key: string, modelPath: string, opts: NativeLoadOptions): Promise<ModelMetadata> {
    const bytes = new Uint8Array(await fs.promises.readFile(modelPath));
    const model = readOnnxModel(bytes);
    const precision = opts.precision ?? (model.metadata.get(PRECISION_METADATA_KEY) as Precision | undefined) ?? 'fp32';
    if (precision !== 'fp32' && precision !== 'int8') throw new Error(`${modelPath}: precision '${precision}' is neither 'fp32' nor 'int8'`);
    let graph: CompiledGraph;
    try {
      graph = compileGraph(model);
    } catch (e) {
      throw new Error(`${modelPath}: ${(e as Error).message}`);
    }
    const native = NativeModel.create(graph.plan, {
      precision,
      threads: Math.max(1, opts.intraOpThreads),
      f32Kernel: this.opts.f32Kernel,
      int8Kernel: this.opts.int8Kernel,
    });
    this.loaded.set(key, { model: native, graph });
    return { inputs: graph.inputs.map(metadataOf), outputs: graph.outputs.map(metadataOf) };
  }

  /** What a loaded key runs with (precision, kernels, steps), for logs and tests. */
  describe(key: string): NativeModel['info'] | undefined {
    return this.loaded.get(key)?.model.info;
  }

  /**
   * Runs one batch. Every model input must be given once, FP32, shaped [rows, ...dims].
   * @returns the requested outputs, FP32 [rows, ...dims], in the order of `outputNames`.
   * @throws Error when the key is not loaded, an input is missing, unknown, not FP32 or
   *   mis-shaped, or an output name is unknown.
   */
  async run(key: string, inputs: Tensor[], outputNames: string[], opts?: RunOptions): Promise<Tensor[]> {
    const m = this.loaded.get(key);
    if (!m) throw new Error(`model '${key}' is not loaded`);
    let rows = -1;
    const data = m.graph.inputs.map((spec) => {
      const t = inputs.find((x) => x.name === spec.name);
      if (!t) throw new Error(`input '${spec.name}' is missing`);
      if (t.datatype !== 'FP32' || !(t.data instanceof Float32Array)) throw new Error(`input '${spec.name}' must be FP32, got ${t.datatype}`);
      if (t.shape.length !== spec.dims.length + 1 || spec.dims.some((d, i) => t.shape[i + 1] !== d)) {
        throw new Error(`input '${spec.name}' has shape [${t.shape}], expected [rows, ${spec.dims}]`);
      }
      if (rows >= 0 && t.shape[0] !== rows) throw new Error(`input '${spec.name}' has ${t.shape[0]} rows, other inputs have ${rows}`);
      rows = t.shape[0];
      return t.data;
    });
    for (const t of inputs) if (!m.graph.inputs.some((s) => s.name === t.name)) throw new Error(`unknown input '${t.name}'`);
    const wanted = outputNames.map((n) => {
      const i = m.graph.outputs.findIndex((o) => o.name === n);
      if (i < 0) throw new Error(`unknown output '${n}'`);
      return i;
    });
    // An inline batch runs on this thread: the site was chosen because the batch is shorter
    // than a hop to the libuv pool and back (execution-site.ts); a pooled one runs there.
    const outs = opts?.site === 'inline' ? m.model.runSync(data, Math.max(rows, 0)) : await m.model.run(data, Math.max(rows, 0));
    return wanted.map((i) => {
      const spec = m.graph.outputs[i];
      return { name: spec.name, datatype: 'FP32' as DataType, shape: [rows, ...spec.dims], data: outs[i] };
    });
  }

  async unload(key: string): Promise<void> {
    this.loaded.delete(key);
  }

  async close(): Promise<void> {
    this.loaded.clear();
  }
}
