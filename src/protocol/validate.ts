import { InferaError } from '../errors';
import { DataType, elementCount, Tensor, bytesOf } from './datatypes';

/** What a model expects of one input, resolved from model.json and the ONNX file. */
export interface InputSpec {
  name: string;
  datatype: DataType;
  shape: number[];
  batchAxis: number | null;
}

export interface ValidatedInputs {
  /** Tensors in the model's input order. */
  tensors: Tensor[];
  rows: number;
  /** Equal keys ⇔ the requests can be concatenated into one batch. */
  batchKey: string;
}

function bad(detail: string): InferaError {
  return new InferaError('ENG_ERR_BAD_TENSOR', detail);
}

/** Checks a shape given by a client: integers ≥ 0 only. */
export function checkShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw bad(`input '${name}': shape must be an array of integers`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d)) throw bad(`input '${name}': shape [${shape}] must hold integers`);
    if (d < 0) throw bad(`input '${name}': shape [${shape}] has a negative dimension`);
  }
  return shape as number[];
}

/**
 * Matches decoded request tensors against the model's inputs: every input present
 * once, datatypes equal, ranks and fixed dims equal, a consistent batch size.
 * @throws InferaError ENG_ERR_BAD_TENSOR naming the tensor and what was expected.
 */
export function validateInputs(given: Tensor[], specs: InputSpec[], maxBatchSize: number): ValidatedInputs {
  const byName = new Map<string, Tensor>();
  for (const t of given) {
    if (byName.has(t.name)) throw bad(`input '${t.name}' appears twice`);
    if (!specs.some((s) => s.name === t.name)) throw bad(`unknown input '${t.name}'; expected ${specs.map((s) => `'${s.name}'`).join(', ')}`);
    byName.set(t.name, t);
  }
  let rows = -1;
  const keyParts: string[] = [];
  const tensors = specs.map((spec) => {
    const t = byName.get(spec.name);
    if (!t) throw bad(`missing input '${spec.name}'`);
    if (t.datatype !== spec.datatype) throw bad(`input '${spec.name}': datatype ${t.datatype}, expected ${spec.datatype}`);
    if (t.shape.length !== spec.shape.length) throw bad(`input '${spec.name}': shape [${t.shape}] has rank ${t.shape.length}, expected shape [${spec.shape}]`);
    spec.shape.forEach((d, i) => {
      if (d >= 0 && t.shape[i] !== d) throw bad(`input '${spec.name}': shape [${t.shape}] does not match expected shape [${spec.shape}]`);
    });
    if (t.data.length !== elementCount(t.shape)) {
      throw bad(`input '${spec.name}': shape [${t.shape}] needs ${elementCount(t.shape)} elements, got ${t.data.length}`);
    }
    if (spec.batchAxis === null) {
      keyParts.push(`${t.shape}=${Array.isArray(t.data) ? JSON.stringify(t.data) : Buffer.from(bytesOf(t.data)).toString('base64')}`);
    } else {
      const n = t.shape[spec.batchAxis];
      if (rows >= 0 && n !== rows) throw bad(`input '${spec.name}': batch size ${n} differs from ${rows} of the other inputs`);
      rows = n;
      keyParts.push(t.shape.map((d, i) => (i === spec.batchAxis ? '*' : d)).join(','));
    }
    return t;
  });
  if (rows < 0) rows = 1;
  if (maxBatchSize > 0 && rows > maxBatchSize) throw bad(`batch size ${rows} exceeds the model's max_batch_size ${maxBatchSize}`);
  if (maxBatchSize > 0 && rows === 0) throw bad('batch size 0: nothing to infer');
  return { tensors, rows, batchKey: keyParts.join('|') };
}
