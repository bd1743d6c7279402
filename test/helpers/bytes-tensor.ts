/**
 * Triton's BYTES layout written independently of the server's codec, as the tests' reference:
 * each element a 4-byte little-endian length, then its bytes (strings as UTF-8).
 */
export function lengthPrefixed(values: readonly (string | Uint8Array)[]): Buffer {
  return Buffer.concat(values.flatMap((v) => {
    const b = Buffer.from(v);
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.byteLength);
    return [n, b];
  }));
}
