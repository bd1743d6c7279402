/**
 * Moving tensors between threads without copying them: a typed array that spans its whole
 * ArrayBuffer is transferred; a view into a larger buffer (a slice of a batch, Node's pooled
 * Buffers) is cloned, since transferring would take the rest of the buffer with it.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';

/** The whole ArrayBuffers behind these tensors, each once (strings are cloned). */
export function wholeBuffers(tensors: readonly { data: unknown }[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const t of tensors) {
    if (!ArrayBuffer.isView(t.data)) continue;
    const b = t.data.buffer;
    if (b instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === b.byteLength) out.add(b);
  }
  return [...out];
}

/** A Piscina worker's answer `value` whose tensors' buffers move to the main thread. */
export function movedAnswer<T>(value: T, tensors: readonly { data: unknown }[]): T {
  const buffers = wholeBuffers(tensors);
  return move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return value;
    },
  } as Parameters<typeof move>[0]) as T;
}
