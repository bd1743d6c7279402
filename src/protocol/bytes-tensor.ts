/**
 * BYTES tensors. In the binary tensor extension (REST) and in gRPC raw contents each element
 * is a 4-byte little-endian length followed by that many bytes; in JSON, a string. Inside the
 * server the elements are JS strings, which is what onnxruntime-node's string tensors take,
 * so bytes that are not UTF-8 are refused at the door rather than mangled.
 */
import { InferaError } from '../errors';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function bad(detail: string): InferaError {
  return new InferaError('ENG_ERR_BAD_TENSOR', detail);
}

/**
 * Reads exactly `count` length-prefixed elements filling all of `bytes`.
 * @throws InferaError 400 for a short length prefix, a length past the end, a count mismatch or invalid UTF-8.
 */
export function decodeBytesElements(name: string, bytes: Uint8Array, count: number): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let o = 0;
  while (o < bytes.byteLength) {
    if (o + 4 > bytes.byteLength) throw bad(`input '${name}': BYTES element ${out.length} has a ${bytes.byteLength - o}-byte length prefix (needs 4)`);
    const n = view.getUint32(o, true);
    o += 4;
    if (o + n > bytes.byteLength) throw bad(`input '${name}': BYTES element ${out.length} is ${n} bytes long but only ${bytes.byteLength - o} remain`);
    if (out.length === count) throw bad(`input '${name}': more than the ${count} BYTES elements its shape holds`);
    out.push(utf8Element(name, out.length, bytes.subarray(o, o + n)));
    o += n;
  }
  if (out.length !== count) throw bad(`input '${name}': its shape holds ${count} BYTES elements, got ${out.length}`);
  return out;
}

/** One BYTES element as a string. @throws InferaError 400 when it is not valid UTF-8. */
export function utf8Element(name: string, index: number, bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw bad(`input '${name}': BYTES element ${index} is not valid UTF-8 (the model takes strings)`);
  }
}

/** Length-prefixed UTF-8 elements, one buffer. */
export function encodeBytesElements(values: readonly string[]): Uint8Array {
  const parts = values.map((v) => encoder.encode(v));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.byteLength, 0));
  const view = new DataView(out.buffer);
  let o = 0;
  for (const p of parts) {
    view.setUint32(o, p.byteLength, true);
    out.set(p, o + 4);
    o += 4 + p.byteLength;
  }
  return out;
}

/**
 * The strings of a JSON BYTES `data` array, flattened row-major (nested arrays allowed).
 * @throws InferaError 400 when an element is not a string.
 */
export function flattenStrings(name: string, data: unknown[]): string[] {
  const out: string[] = [];
  const walk = (a: unknown[]): void => {
    for (const v of a) {
      if (typeof v === 'string') out.push(v);
      else if (Array.isArray(v)) walk(v);
      else throw bad(`input '${name}': BYTES element ${out.length} is ${v === null ? 'null' : typeof v}, expected a string`);
    }
  };
  walk(data);
  return out;
}
