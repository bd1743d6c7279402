import { concatAxis, sliceAxis } from '../native/binding';
import { DATATYPES, Tensor, bytesOf, elementCount, typedFromBytes } from '../protocol/datatypes';

function product(dims: readonly number[]): number {
  return elementCount(dims);
}

/**
 * Concatenates the requests' tensors of one input along its batch axis (native,
 * off the JS thread for large batches). A single request passes through untouched.
 */
export async function assembleInput(parts: Tensor[], axis: number): Promise<Tensor> {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  const outer = product(first.shape.slice(0, axis));
  const bytes = DATATYPES[first.datatype].bytes;
  const innerBytes = parts.map((p) => product(p.shape.slice(axis)) * bytes);
  const whole = await concatAxis(parts.map((p) => bytesOf(p.data)), outer, innerBytes);
  const shape = [...first.shape];
  shape[axis] = parts.reduce((n, p) => n + p.shape[axis], 0);
  return { name: first.name, datatype: first.datatype, shape, data: typedFromBytes(first.datatype, whole) };
}

/** Splits one batched output back into per-request tensors by their row counts. */
export async function scatterOutput(out: Tensor, axis: number | null, rows: number[]): Promise<Tensor[]> {
  if (rows.length === 1) return [out];
  if (axis === null) return rows.map(() => out);
  const total = rows.reduce((a, b) => a + b, 0);
  if (out.shape[axis] !== total) {
    throw new Error(`output '${out.name}' has ${out.shape[axis]} rows on axis ${axis}, the batch had ${total}`);
  }
  const outer = product(out.shape.slice(0, axis));
  const rowBytes = product(out.shape.slice(axis + 1)) * DATATYPES[out.datatype].bytes;
  const pieces = await sliceAxis(bytesOf(out.data), outer, rows.map((r) => r * rowBytes));
  return pieces.map((piece, i) => {
    const shape = [...out.shape];
    shape[axis] = rows[i];
    return { name: out.name, datatype: out.datatype, shape, data: typedFromBytes(out.datatype, piece) };
  });
}
