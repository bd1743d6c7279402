/**
 * Which backend serves a registered model: the addon's native executor (its MLP kernels) or
 * onnxruntime. With `auto` (the default) the pipeline picks native when
 *  - the executor compiles the exported graph and, in fp32 on the held-out rows the export was
 *    already checked on, agrees with the trainer within the export tolerance, and
 *  - every version already registered under the name compiles for it too: model.json is shared
 *    by all versions, and a rollback to an older one must still load;
 * else onnxruntime (tree ensembles, any other operator), with the reason in the card.
 *
 * Measured reason (bench/README.md, "Stop 27"): one-row /predict on flights-delay, one core,
 * one connection, the native executor served 1.3-1.6x the requests of onnxruntime (its
 * per-call cost is a few microseconds where onnxruntime-node's is tens), and as many at 64
 * connections.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NativeModel } from '../native/executor';
import { compileGraph } from '../runtime/graph-plan';
import { readOnnxFile, readOnnxModel } from '../runtime/onnx-model-reader';

export type ServingBackendRequest = 'auto' | 'native' | 'onnxruntime';

export interface ServingBackendChoice {
  backend: 'native' | 'onnxruntime';
  /** Why: the parity figure, or what kept the native executor out. */
  reason: string;
  /** max |native fp32 − trainer| over the checked rows, when the executor ran them. */
  native_max_abs_diff?: number;
}

export interface ServingBackendInput {
  requested: ServingBackendRequest;
  /** The exported model file. */
  onnx: Uint8Array;
  /** The checked rows, dense, rows × width, and the trainer's probabilities for them. */
  rows: Float32Array;
  count: number;
  expected: ArrayLike<number>;
  tolerance: number;
  /** models/<name>: the versions already registered there must compile as well. */
  modelDir: string;
}

/** The native executor's fp32 outputs for the rows (the first output); throws why it cannot run the model. */
function nativeRun(onnx: Uint8Array, rows: Float32Array, count: number): Float32Array {
  const graph = compileGraph(readOnnxModel(onnx));
  return NativeModel.create(graph.plan, { precision: 'fp32' }).runSync([rows], count)[0];
}

function registeredVersions(modelDir: string): number[] {
  if (!fs.existsSync(modelDir)) return [];
  return fs.readdirSync(modelDir).filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);
}

/**
 * Chooses the backend (see the module comment).
 * @throws Error when `native` was requested and the executor cannot serve the model.
 */
export function chooseServingBackend(i: ServingBackendInput): ServingBackendChoice {
  if (i.requested === 'onnxruntime') return { backend: 'onnxruntime', reason: 'requested in the pipeline file (serving.backend)' };
  const refuse = (reason: string): ServingBackendChoice => {
    if (i.requested === 'native') throw new Error(`serving.backend 'native': ${reason}`);
    return { backend: 'onnxruntime', reason };
  };
  let got: Float32Array;
  try {
    got = nativeRun(i.onnx, i.rows, i.count);
  } catch (e) {
    return refuse(`the native executor cannot run this model: ${(e as Error).message}`);
  }
  let worst = 0;
  for (let r = 0; r < i.count; r++) {
    const d = Math.abs(got[r] - i.expected[r]);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  if (!(worst <= i.tolerance)) return { ...refuse(`the native executor differs from the trainer by ${worst} > ${i.tolerance} on ${i.count} rows`), native_max_abs_diff: worst };
  for (const v of registeredVersions(i.modelDir)) {
    const file = path.join(i.modelDir, String(v), 'model.onnx');
    try {
      compileGraph(readOnnxFile(file));
    } catch (e) {
      return { ...refuse(`version ${v}, already registered, does not compile for the native executor: ${(e as Error).message}`), native_max_abs_diff: worst };
    }
  }
  return { backend: 'native', reason: `the native executor (fp32) agrees with the trainer within ${worst.toExponential(2)} on ${i.count} held-out rows`, native_max_abs_diff: worst };
}
