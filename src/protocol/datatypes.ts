import { halfValue } from './half';

/**
 * Open Inference Protocol datatypes, their in-server representation and the ONNX Runtime
 * type names they map to. Fixed-width types travel as typed arrays (FP16 as the raw half
 * bits in a Uint16Array, as onnxruntime-node takes them); BYTES travels as a string[]
 * (onnxruntime-node string tensors are JS strings, so the bytes must be UTF-8). BF16 is
 * not served: onnxruntime-node has no tensor type for it.
 */
export type DataType = FixedDataType | 'BYTES';

/** The datatypes whose elements have one size: byte lengths follow from the shape. */
export type FixedDataType =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64'
  | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64';

export type TypedArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Float32Array | Float64Array;

/** A tensor's elements: a typed array, or strings for BYTES. */
export type TensorData = TypedArray | string[];

interface DataTypeInfo {
  bytes: number;
  ort: string;
  /** Builds a typed array over an existing buffer region (byteOffset must be aligned). */
  view: (buf: ArrayBufferLike, byteOffset: number, length: number) => TypedArray;
  alloc: (length: number) => TypedArray;
  integer: boolean;
  min?: number;
  max?: number;
}

export const DATATYPES: Record<FixedDataType, DataTypeInfo> = {
  BOOL: { bytes: 1, ort: 'bool', view: (b, o, n) => new Uint8Array(b, o, n), alloc: (n) => new Uint8Array(n), integer: true, min: 0, max: 1 },
  UINT8: { bytes: 1, ort: 'uint8', view: (b, o, n) => new Uint8Array(b, o, n), alloc: (n) => new Uint8Array(n), integer: true, min: 0, max: 255 },
  UINT16: { bytes: 2, ort: 'uint16', view: (b, o, n) => new Uint16Array(b, o, n), alloc: (n) => new Uint16Array(n), integer: true, min: 0, max: 65535 },
  UINT32: { bytes: 4, ort: 'uint32', view: (b, o, n) => new Uint32Array(b, o, n), alloc: (n) => new Uint32Array(n), integer: true, min: 0, max: 4294967295 },
  UINT64: { bytes: 8, ort: 'uint64', view: (b, o, n) => new BigUint64Array(b, o, n), alloc: (n) => new BigUint64Array(n), integer: true, min: 0, max: Number.MAX_SAFE_INTEGER },
  INT8: { bytes: 1, ort: 'int8', view: (b, o, n) => new Int8Array(b, o, n), alloc: (n) => new Int8Array(n), integer: true, min: -128, max: 127 },
  INT16: { bytes: 2, ort: 'int16', view: (b, o, n) => new Int16Array(b, o, n), alloc: (n) => new Int16Array(n), integer: true, min: -32768, max: 32767 },
  INT32: { bytes: 4, ort: 'int32', view: (b, o, n) => new Int32Array(b, o, n), alloc: (n) => new Int32Array(n), integer: true, min: -2147483648, max: 2147483647 },
  INT64: { bytes: 8, ort: 'int64', view: (b, o, n) => new BigInt64Array(b, o, n), alloc: (n) => new BigInt64Array(n), integer: true, min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  FP16: { bytes: 2, ort: 'float16', view: (b, o, n) => new Uint16Array(b, o, n), alloc: (n) => new Uint16Array(n), integer: false },
  FP32: { bytes: 4, ort: 'float32', view: (b, o, n) => new Float32Array(b, o, n), alloc: (n) => new Float32Array(n), integer: false },
  FP64: { bytes: 8, ort: 'float64', view: (b, o, n) => new Float64Array(b, o, n), alloc: (n) => new Float64Array(n), integer: false },
};

const ORT_TO_OIP: Record<string, DataType> = {
  ...Object.fromEntries(Object.entries(DATATYPES).map(([k, v]) => [v.ort, k as DataType])),
  string: 'BYTES',
};

export function isDataType(s: unknown): s is DataType {
  return s === 'BYTES' || isFixedDataType(s);
}

export function isFixedDataType(s: unknown): s is FixedDataType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DATATYPES, s);
}

/** onnxruntime's name of a datatype. */
export function ortType(dt: DataType): string {
  return dt === 'BYTES' ? 'string' : DATATYPES[dt].ort;
}

/** `n` zero elements (empty strings for BYTES). */
export function allocData(dt: DataType, n: number): TensorData {
  return dt === 'BYTES' ? new Array<string>(n).fill('') : DATATYPES[dt].alloc(n);
}

export function fromOrtType(ort: string): DataType | undefined {
  return ORT_TO_OIP[ort];
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A tensor as it travels inside the server: decoded once, never per-row objects. */
export interface Tensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: TensorData;
}

/** Element i as a number (FP16 decoded; NaN for BYTES): for monitoring, which reads predictions. */
export function numberAt(t: Tensor, i: number): number {
  if (t.datatype === 'BYTES') return NaN;
  if (t.datatype === 'FP16') return halfValue((t.data as Uint16Array)[i]);
  return Number((t.data as TypedArray)[i]);
}

/** Copies bytes into a fresh, aligned typed array of the given datatype. */
export function typedFromBytes(dt: FixedDataType, bytes: Uint8Array): TypedArray {
  const info = DATATYPES[dt];
  const n = bytes.byteLength / info.bytes;
  if (bytes.byteOffset % info.bytes === 0) return info.view(bytes.buffer, bytes.byteOffset, n);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return info.view(copy.buffer, 0, n);
}

export function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The JSON values of a tensor's elements: numbers (FP16 decoded, BigInt exact below 2^53), booleans, or strings. */
export function toJsonArray(t: Tensor): number[] | boolean[] | string[] {
  const a = t.data;
  if (Array.isArray(a)) return a;
  if (t.datatype === 'BOOL') return Array.from(a as Uint8Array, (v) => v !== 0);
  if (t.datatype === 'FP16') return Array.from(a as Uint16Array, halfValue);
  if (a instanceof BigInt64Array || a instanceof BigUint64Array) return Array.from(a, (v) => Number(v));
  return Array.from(a as ArrayLike<number>);
}
