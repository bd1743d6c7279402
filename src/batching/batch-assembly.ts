import { concatAxis, concatAxisSync, sliceAxis, sliceAxisSync } from '../native/binding';
import { DATATYPES, Tensor, TypedArray, bytesOf, elementCount, typedFromBytes } from '../protocol/datatypes';

function product(dims: readonly number[]): number {
  return elementCount(dims);
}

/**
 * Concatenates the requests' tensors of one input along its batch axis (native). `inline`:
 * on the calling thread whatever the size (see batch-execution.ts); otherwise large batches
 * copy on the libuv pool. A single request passes through untouched.
 */
export async function assembleInput(parts: Tensor[], axis: number, inline = false): Promise<Tensor> {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  const outer = product(first.shape.slice(0, axis));
  const shape = [...first.shape];
  shape[axis] = parts.reduce((n, p) => n + p.shape[axis], 0);
  if (first.datatype === 'BYTES') return { name: first.name, datatype: 'BYTES', shape, data: concatStrings(parts.map((p) => p.data as string[]), outer, parts.map((p) => product(p.shape.slice(axis)))) };
  const bytes = DATATYPES[first.datatype].bytes;
  const innerBytes = parts.map((p) => product(p.shape.slice(axis)) * bytes);
  const bytesList = parts.map((p) => bytesOf(p.data as TypedArray));
  const whole = inline ? concatAxisSync(bytesList, outer, innerBytes) : await concatAxis(bytesList, outer, innerBytes);
  return { name: first.name, datatype: first.datatype, shape, data: typedFromBytes(first.datatype, whole) };
}

/** Splits one batched output back into per-request tensors by their row counts (`inline` as assembleInput's). */
export async function scatterOutput(out: Tensor, axis: number | null, rows: number[], inline = false): Promise<Tensor[]> {
  if (rows.length === 1) return [out];
  if (axis === null) return rows.map(() => out);
  const total = rows.reduce((a, b) => a + b, 0);
  if (out.shape[axis] !== total) {
    throw new Error(`output '${out.name}' has ${out.shape[axis]} rows on axis ${axis}, the batch had ${total}`);
  }
  const outer = product(out.shape.slice(0, axis));
  const shapeOf = (i: number) => out.shape.map((d, k) => (k === axis ? rows[i] : d));
  const rowSize = product(out.shape.slice(axis + 1));
  if (out.datatype === 'BYTES') {
    return sliceStrings(out.data as string[], outer, rows.map((r) => r * rowSize)).map((data, i) => ({ name: out.name, datatype: 'BYTES', shape: shapeOf(i), data }));
  }
  const datatype = out.datatype;
  const rowBytes = rowSize * DATATYPES[datatype].bytes;
  const whole = bytesOf(out.data as TypedArray);
  const innerBytes = rows.map((r) => r * rowBytes);
  const pieces = inline ? sliceAxisSync(whole, outer, innerBytes) : await sliceAxis(whole, outer, innerBytes);
  return pieces.map((piece, i) => ({ name: out.name, datatype, shape: shapeOf(i), data: typedFromBytes(datatype, piece) }));
}

/**
 * concatAxis for strings (BYTES tensors hold JS strings, which the addon does not take):
 * for each of `outer` blocks, part p contributes `inner[p]` consecutive elements.
 */
function concatStrings(parts: string[][], outer: number, inner: number[]): string[] {
  const out: string[] = [];
  for (let o = 0; o < outer; o++) parts.forEach((p, i) => out.push(...p.slice(o * inner[i], (o + 1) * inner[i])));
  return out;
}

/** sliceAxis for strings: the inverse of concatStrings. */
function sliceStrings(whole: string[], outer: number, inner: number[]): string[][] {
  const out = inner.map(() => [] as string[]);
  let k = 0;
  for (let o = 0; o < outer; o++) {
    inner.forEach((n, i) => {
      out[i].push(...whole.slice(k, k + n));
      k += n;
    });
  }
  return out;
}
