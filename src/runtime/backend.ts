import { DataType, Tensor } from '../protocol/datatypes';

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
  run(key: string, inputs: Tensor[], outputNames: string[]): Promise<Tensor[]>;
  unload(key: string): Promise<void>;
  close(): Promise<void>;
}
