/**
 * Typed wrapper of the native MLP executor (native/src/exec/): a model compiled by
 * graph-plan.ts, packed once (fp32 or int8 weights), run on the libuv thread pool with the
 * batch split into row chunks across the addon's compute threads when it is large enough.
 * The addon is loaded by binding.ts.
 */
import { loadBinding } from './binding';

// The plan the addon executes; src/runtime/graph-plan.ts compiles ONNX graphs into it.
export type NativeActivation = 'relu' | 'sigmoid' | 'tanh';

export type NativeStep = { name: string; input: number; output: number } & (
  | {
    op: 'gemm'; K: number; N: number; alpha: number; weight?: Float32Array; q?: Int8Array; scales?: Float32Array; bias?: Float32Array; activation?: NativeActivation;
    /** 'fp32': stays fp32 in an int8 model (absent: the model's precision). */
    precision?: 'fp32' | 'int8';
  }
  | { op: 'add_const'; constant: Float32Array }
  | { op: 'add'; input2: number }
  | { op: 'relu' | 'sigmoid' | 'tanh' | 'copy' }
  | { op: 'softmax'; group: number }
);

/** The object createNativeModel consumes (checked again in C++: native/src/exec/plan_parse.h). */
export interface NativePlan {
  /** Width (product of the static dims) of each value id. */
  values: number[];
  inputs: { name: string; value: number }[];
  outputs: { name: string; value: number }[];
  steps: NativeStep[];
}

export type Precision = 'fp32' | 'int8';

export interface NativeModelOptions {
  precision: Precision;
  /** Most row chunks (threads) one run may use; default 1. */
  threads?: number;
  /** Kernel variants (see kernelInfo()); default 'auto'. */
  f32Kernel?: string;
  int8Kernel?: string;
  /** Rows below which a run stays on one thread; default 0 = from the model's flops per row. */
  minRowsPerChunk?: number;
  /**
   * Gemm steps scan their input and, when it is mostly zeros (one-hot features), run sparse
   * kernels that give the dense kernels' results bit for bit; default true.
   */
  sparseInputs?: boolean;
}

export interface NativeModelInfo {
  precision: Precision;
  inputs: { name: string; width: number }[];
  outputs: { name: string; width: number }[];
  steps: { op: string; name: string; K?: number; N?: number; int8?: boolean }[];
  kernels: { f32: string; int8: string };
  flopsPerRow: number;
  threads: number;
  /** Chunks a run of `rows` would use (present when rows was given). */
  chunks?: number;
}

/** An opaque executor handle (a type-tagged N-API External). */
export type NativeModelHandle = { readonly __nativeModel: unique symbol };

/** Raw addon exports of the executor. */
export interface ExecutorBinding {
  createNativeModel(plan: NativePlan, options: NativeModelOptions): NativeModelHandle;
  nativeModelRun(handle: NativeModelHandle, inputs: Float32Array[], rows: number): Promise<Float32Array[]>;
  nativeModelRunSync(handle: NativeModelHandle, inputs: Float32Array[], rows: number): Float32Array[];
  nativeModelInfo(handle: NativeModelHandle, rows?: number): NativeModelInfo;
}

/** A loaded native model. Weights live as long as this object (or a run in flight). */
export class NativeModel {
  private constructor(private readonly handle: NativeModelHandle, readonly info: NativeModelInfo) {}

  /**
   * Packs a compiled plan's weights for the given precision ('int8': every Gemm/MatMul in int8,
   * int8 weights from the file used as they are, fp32 ones quantized per output channel).
   * @returns the model.
   * @throws TypeError/RangeError naming the plan field when the plan is inconsistent (value ids,
   *   widths, array lengths, SSA order) or an option is invalid; Error for non-finite weights.
   */
  static create(plan: NativePlan, options: NativeModelOptions): NativeModel {
    const b = loadBinding();
    const handle = b.createNativeModel(plan, options);
    return new NativeModel(handle, b.nativeModelInfo(handle));
  }

  /**
   * [async] Runs a batch off the JS thread: inputs[i] holds rows × width of input i (order of
   * info.inputs). The inputs must not be detached or written until the promise settles.
   * @returns a Promise of one new Float32Array per output (rows × width, order of info.outputs).
   * @throws TypeError (as a rejection) for a wrong number of inputs, a non-Float32Array or a
   *   length other than rows × width (the message names the input).
   */
  run(inputs: Float32Array[], rows: number): Promise<Float32Array[]> {
    try {
      return loadBinding().nativeModelRun(this.handle, inputs, rows);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Runs a batch on the calling thread (tests, measurement).
   * @returns one new Float32Array per output.
   * @throws TypeError as {@link NativeModel.run} rejects.
   */
  runSync(inputs: Float32Array[], rows: number): Float32Array[] {
    return loadBinding().nativeModelRunSync(this.handle, inputs, rows);
  }

  /**
   * How a batch of `rows` would be split.
   * @returns the number of row chunks (1 = single-threaded).
   */
  chunksFor(rows: number): number {
    return loadBinding().nativeModelInfo(this.handle, rows).chunks ?? 1;
  }
}
