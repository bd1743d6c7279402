import { InferaError } from '../errors';
import { DataType, Tensor } from '../protocol/datatypes';
import type { ExecutionSite } from './execution-site';

/** Prefix of the message of an error onnxruntime raised while running a graph (errors lose their class between threads). */
export const MODEL_RUN_FAILED = 'onnxruntime run failed: ';

/**
 * The graph refused a batch's inputs (a shape its operators cannot take). The client sees the
 * shapes it sent, never the runtime's message; the batcher retries a batch of several requests
 * one by one so that only the offending request fails.
 */
export function modelRejected(inputs: Tensor[], cause: unknown): InferaError {
  const shapes = inputs.map((t) => `${t.name} [${t.shape}]`).join(', ');
  return new InferaError('ENG_ERR_MODEL_REJECTED_INPUT', `the model cannot run on inputs of these shapes: ${shapes}`, { cause });
}

/** A tensor as the model file declares it: -1 marks a symbolic dimension. */
export interface TensorMetadata {
  name: string;
  datatype: DataType;
  shape: number[] | null;
}

export interface ModelMetadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface RunOptions {
  /** The event loop ('inline') or a worker ('pool'); a backend with one place to run ignores it. */
  site?: ExecutionSite;
  /**
   * A pooled batch running longer is abandoned: its requests fail with ENG_ERR_EXECUTION_TIMEOUT
   * while the worker finishes it (see onnx-backend.ts abandonAfter). Inline runs cannot be
   * interrupted (they are chosen only for batches predicted far shorter; see batch-execution.ts).
   */
  timeoutMs?: number;
}

export interface LoadOptions {
  intraOpThreads: number;
}

/**
 * An execution backend. Keys identify a loaded model version; a backend may hold
 * the same key in several workers. run() receives whole batches: tensors already
 * concatenated, never per-row objects.
 */
export interface Backend {
  readonly name: string;
  load(key: string, modelPath: string, opts: LoadOptions): Promise<ModelMetadata>;
  /**
   * Runs one batch. The backend consumes `inputs`: their buffers may be transferred to another
   * thread, so the caller must not read them afterwards.
   * @throws InferaError ENG_ERR_EXECUTION_TIMEOUT when a pooled batch outlives `timeoutMs`.
   */
  run(key: string, inputs: Tensor[], outputNames: string[], opts?: RunOptions): Promise<Tensor[]>;
  unload(key: string): Promise<void>;
  close(): Promise<void>;
}
