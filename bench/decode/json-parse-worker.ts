/** Piscina worker for the JSON-decode measurement: JSON.parse + typed arrays, buffers moved back. */
import { move, transferableSymbol, valueSymbol } from 'piscina';

export default function decode(body: Uint8Array): unknown {
  const doc = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as { inputs: { data: number[] }[] };
  const arrays = doc.inputs.map((i) => new Float32Array(i.data.flat(Infinity) as number[]));
  const wrapped = {
    get [transferableSymbol]() {
      return arrays.map((a) => a.buffer);
    },
    get [valueSymbol]() {
      return arrays;
    },
  };
  return move(wrapped as unknown as Parameters<typeof move>[0]);
}
