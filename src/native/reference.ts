/**
 * Plain TypeScript reference implementations of the native addon's functions.
 * Slow but obviously correct; the unit tests compare the addon against these.
 */

/**
 * Reference for concatAxis: for each outer row r, part i's bytes
 * [r*innerBytes[i], (r+1)*innerBytes[i]) back to back.
 * @returns the concatenated bytes.
 * @throws TypeError when parts[i].byteLength !== outer * innerBytes[i].
 */
export function concatAxisRef(parts: readonly Uint8Array[], outer: number, innerBytes: readonly number[]): Uint8Array {
  parts.forEach((p, i) => {
    if (p.byteLength !== outer * innerBytes[i]) throw new TypeError(`parts[${i}] has the wrong byteLength`);
  });
  const total = outer * innerBytes.reduce((a, b) => a + b, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (let r = 0; r < outer; r++) {
    for (let i = 0; i < parts.length; i++) {
      const n = innerBytes[i];
      for (let k = 0; k < n; k++) out[o++] = parts[i][r * n + k];
    }
  }
  return out;
}

/**
 * Reference for sliceAxis, the inverse of {@link concatAxisRef}.
 * @returns piece i of outer * innerBytes[i] bytes.
 * @throws TypeError when whole.byteLength !== outer * sum(innerBytes).
 */
export function sliceAxisRef(whole: Uint8Array, outer: number, innerBytes: readonly number[]): Uint8Array[] {
  const rowBytes = innerBytes.reduce((a, b) => a + b, 0);
  if (whole.byteLength !== outer * rowBytes) throw new TypeError('whole has the wrong byteLength');
  const outs = innerBytes.map((n) => new Uint8Array(outer * n));
  let o = 0;
  for (let r = 0; r < outer; r++) {
    for (let i = 0; i < innerBytes.length; i++) {
      const n = innerBytes[i];
      for (let k = 0; k < n; k++) outs[i][r * n + k] = whole[o++];
    }
  }
  return outs;
}

/** Result of {@link parseJsonNumberArraysRef}: `value` is JSON.parse(json) of the native result. */
export interface JsonNumberArraysRef {
  value: unknown;
  arrays: Float64Array[];
  nested: boolean[];
}

/**
 * Collects the leaves of a (nested) array when all are numbers or booleans.
 * @returns false when some leaf is anything else.
 */
function numericLeaves(a: unknown[], out: number[], state: { nested: boolean }): boolean {
  for (const x of a) {
    if (typeof x === 'number') out.push(x);
    else if (typeof x === 'boolean') out.push(x ? 1 : 0);
    else if (Array.isArray(x)) {
      state.nested = true;
      if (!numericLeaves(x, out, state)) return false;
    } else return false;
  }
  return true;
}

/**
 * Reference for parseJsonNumberArrays built on JSON.parse: walks the parsed value and
 * replaces every "data" member holding a numeric array with at least one leaf by its index k
 * (walk order equals document order for objects without integer-like or duplicate keys).
 * @returns the replaced value, the arrays and their nested flags.
 * @throws SyntaxError when JSON.parse does.
 */
export function parseJsonNumberArraysRef(text: string): JsonNumberArraysRef {
  const arrays: Float64Array[] = [];
  const nested: boolean[] = [];
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      let value: unknown;
      const leaves: number[] = [];
      const state = { nested: false };
      if (k === 'data' && Array.isArray(x) && numericLeaves(x, leaves, state) && leaves.length > 0) {
        value = arrays.length;
        arrays.push(Float64Array.from(leaves));
        nested.push(state.nested);
      } else {
        value = walk(x);
      }
      Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
    }
    return o;
  };
  return { value: walk(JSON.parse(text)), arrays, nested };
}
