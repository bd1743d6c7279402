import { parseJsonNumberArrays } from '../native/binding';
import { InferaError } from '../errors';
import { DATATYPES, DataType, FixedDataType, Tensor, TensorData, TypedArray, bytesOf, elementCount, isDataType, toJsonArray, typedFromBytes } from './datatypes';
import { decodeBytesElements, encodeBytesElements, flattenStrings } from './bytes-tensor';
import { halfBits } from './half';
import { checkShape } from './validate';

/** A decoded Open Inference Protocol v2 infer request. */
export interface InferRequest {
  id?: string;
  inputs: Tensor[];
  outputs: { name: string; binary: boolean }[];
  /** parameters.binary_data_output: every output in binary unless it says otherwise. */
  binaryOutput: boolean;
  /** parameters.timeout, in microseconds as Triton takes it, converted to ms. */
  timeoutMs?: number;
  parameters: Record<string, unknown>;
}

export interface RequestHeaders {
  /** Inference-Header-Content-Length, when the binary tensor extension is used. */
  inferenceHeaderLength?: string;
}

export interface DecodeOptions {
  /** JSON parts below this many bytes are scanned on the calling thread (binding.ts jsonSyncThreshold). */
  syncParseBelowBytes?: number;
}

function bad(detail: string): InferaError {
  return new InferaError('ENG_ERR_BAD_TENSOR', detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Converts numbers (JSON, or gRPC typed contents) to the declared datatype, rejecting what it cannot hold. */
export function fromNumbers(name: string, dt: FixedDataType, src: Float64Array): TypedArray {
  const info = DATATYPES[dt];
  if (dt === 'FP64') return src;
  if (dt === 'FP32') return new Float32Array(src);
  if (dt === 'FP16') {
    const out = new Uint16Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const h = halfBits(src[i]);
      if (h === undefined) throw bad(`input '${name}': element ${i} (${src[i]}) is outside the FP16 range (largest finite value 65504)`);
      out[i] = h;
    }
    return out;
  }
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (!Number.isInteger(v) || v < info.min! || v > info.max!) {
      throw bad(`input '${name}': element ${i} (${v}) is not a valid ${dt} value`);
    }
  }
  if (dt === 'INT64') return BigInt64Array.from(src, (v) => BigInt(v));
  if (dt === 'UINT64') return BigUint64Array.from(src, (v) => BigInt(v));
  const out = info.alloc(src.length);
  (out as Exclude<TypedArray, BigInt64Array | BigUint64Array>).set(src);
  return out;
}

function decodeInputs(header: Record<string, unknown>, arrays: Float64Array[], binary: Uint8Array | null, expected?: ReadonlyMap<string, DataType>): Tensor[] {
  if (!Array.isArray(header.inputs) || header.inputs.length === 0) throw new InferaError('ENG_ERR_BAD_REQUEST', "'inputs' must be a non-empty array");
  let offset = 0;
  const tensors = header.inputs.map((raw: unknown, i: number): Tensor => {
    if (!isObject(raw)) throw new InferaError('ENG_ERR_BAD_REQUEST', `inputs[${i}] must be an object`);
    const name = raw.name;
    if (typeof name !== 'string' || name.length === 0) throw new InferaError('ENG_ERR_BAD_REQUEST', `inputs[${i}].name must be a non-empty string`);
    const dt = raw.datatype;
    if (dt === 'BF16') throw new InferaError('ENG_ERR_UNSUPPORTED', `input '${name}': datatype BF16 is not served (onnxruntime-node has no bfloat16 tensors)`);
    if (!isDataType(dt)) throw bad(`input '${name}': unknown datatype ${JSON.stringify(dt)}`);
    const want = expected?.get(name);
    if (want && want !== dt) throw bad(`input '${name}': datatype ${dt}, expected ${want}`);
    const shape = checkShape(name, raw.shape);
    const count = elementCount(shape);
    const params = isObject(raw.parameters) ? raw.parameters : {};
    if (params.binary_data_size !== undefined) {
      const size = params.binary_data_size;
      if (!binary) throw bad(`input '${name}': binary_data_size given but the request has no Inference-Header-Content-Length`);
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw bad(`input '${name}': binary_data_size must be a non-negative integer`);
      if (offset + size > binary.byteLength) throw bad(`input '${name}': binary_data_size ${size} runs past the end of the body (${binary.byteLength - offset} bytes left)`);
      if (dt === 'BYTES') {
        const data = decodeBytesElements(name, binary.subarray(offset, offset + size), count);
        offset += size;
        return { name, datatype: dt, shape, data };
      }
      if (size !== count * DATATYPES[dt].bytes) throw bad(`input '${name}': shape [${shape}] of ${dt} needs ${count * DATATYPES[dt].bytes} bytes, binary_data_size is ${size}`);
      const data = typedFromBytes(dt, binary.subarray(offset, offset + size));
      offset += size;
      return { name, datatype: dt, shape, data };
    }
    const d = raw.data;
    let data: TensorData;
    if (dt === 'BYTES') {
      if (!Array.isArray(d)) throw bad(`input '${name}': data must be an array of strings for datatype BYTES`);
      data = flattenStrings(name, d);
    } else if (typeof d === 'number' && Number.isInteger(d) && d >= 0 && d < arrays.length) data = fromNumbers(name, dt, arrays[d]);
    else if (Array.isArray(d) && d.length === 0) data = DATATYPES[dt].alloc(0);
    else if (d === undefined) throw bad(`input '${name}': no 'data' and no binary_data_size`);
    else throw bad(`input '${name}': data must be an array of numbers for datatype ${dt}`);
    if (data.length !== count) throw bad(`input '${name}': shape [${shape}] needs ${count} elements, data has ${data.length}`);
    return { name, datatype: dt, shape, data };
  });
  if (binary && offset !== binary.byteLength) throw bad(`binary section has ${binary.byteLength} bytes but the inputs declare ${offset}`);
  return tensors;
}

/**
 * Decodes an infer request body (JSON, or JSON header + binary tensors).
 * Number arrays are parsed natively off the JS thread; only the small header is JSON.parsed here.
 * `expected` (input name → datatype) lets a datatype mismatch be named before conversion.
 * @throws InferaError 400 for malformed JSON, bad tensors or an inconsistent binary header.
 */
export async function decodeInferRequest(body: Uint8Array, headers: RequestHeaders, expected?: ReadonlyMap<string, DataType>, opts: DecodeOptions = {}): Promise<InferRequest> {
  let jsonPart = body;
  let binary: Uint8Array | null = null;
  if (headers.inferenceHeaderLength !== undefined) {
    const n = Number(headers.inferenceHeaderLength);
    if (!/^[0-9]+$/.test(headers.inferenceHeaderLength) || n > body.byteLength) {
      throw bad(`Inference-Header-Content-Length ${headers.inferenceHeaderLength} is not a length within the ${body.byteLength}-byte body`);
    }
    jsonPart = body.subarray(0, n);
    binary = body.subarray(n);
  }
  let header: unknown;
  let arrays: Float64Array[];
  try {
    const parsed = await parseJsonNumberArrays(jsonPart, opts.syncParseBelowBytes);
    arrays = parsed.arrays;
    header = JSON.parse(parsed.json);
  } catch (e) {
    // Only a parse failure is the client's fault; anything else (the addon) is ours.
    if (e instanceof SyntaxError) throw new InferaError('ENG_ERR_MALFORMED_JSON', e.message);
    throw e;
  }
  if (!isObject(header)) throw new InferaError('ENG_ERR_BAD_REQUEST', 'the request body must be a JSON object');
  const params = isObject(header.parameters) ? header.parameters : {};
  const inputs = decodeInputs(header, arrays, binary, expected);
  const binaryOutput = params.binary_data_output === true;
  let outputs: InferRequest['outputs'] = [];
  if (header.outputs !== undefined) {
    if (!Array.isArray(header.outputs)) throw new InferaError('ENG_ERR_BAD_REQUEST', "'outputs' must be an array");
    outputs = header.outputs.map((o: unknown, i: number) => {
      if (!isObject(o) || typeof o.name !== 'string') throw new InferaError('ENG_ERR_BAD_REQUEST', `outputs[${i}].name must be a string`);
      const p = isObject(o.parameters) ? o.parameters : {};
      return { name: o.name, binary: p.binary_data === undefined ? binaryOutput : p.binary_data === true };
    });
    const names = new Set(outputs.map((o) => o.name));
    if (names.size !== outputs.length) throw new InferaError('ENG_ERR_BAD_REQUEST', `'outputs' names an output more than once`);
  }
  const timeoutMs = timeoutFromParameters(params);
  if (header.id !== undefined && typeof header.id !== 'string') throw new InferaError('ENG_ERR_BAD_REQUEST', "'id' must be a string");
  return { id: header.id as string | undefined, inputs, outputs, binaryOutput, timeoutMs, parameters: params };
}

/**
 * parameters.timeout (microseconds, as Triton takes it) in ms, or undefined.
 * @throws InferaError 400 unless it is a positive number.
 */
export function timeoutFromParameters(params: Record<string, unknown>): number | undefined {
  if (params.timeout === undefined) return undefined;
  if (typeof params.timeout !== 'number' || !(params.timeout > 0)) throw new InferaError('ENG_ERR_BAD_REQUEST', 'parameters.timeout must be a positive number of microseconds');
  return params.timeout / 1000;
}

export interface EncodedResponse {
  body: Buffer;
  /** Set when the response carries binary outputs. */
  inferenceHeaderLength?: number;
}

function jsonData(t: Tensor): string {
  const a = t.data;
  // Joined, not converted to numbers: exact beyond 2^53.
  if (a instanceof BigInt64Array || a instanceof BigUint64Array) return `[${a.join(',')}]`;
  return JSON.stringify(toJsonArray(t));
}

/** A tensor's bytes in the binary tensor extension: raw elements, or length-prefixed strings for BYTES. */
export function wireBytes(t: Tensor): Uint8Array {
  return t.datatype === 'BYTES' ? encodeBytesElements(t.data as string[]) : bytesOf(t.data as TypedArray);
}

/** Encodes an infer response; binary outputs follow the JSON header in output order. */
export function encodeInferResponse(
  model: string, version: number, id: string | undefined,
  outputs: Tensor[], binaryFor: (name: string) => boolean,
): EncodedResponse {
  const blobs: Uint8Array[] = [];
  const parts = outputs.map((t) => {
    const head = `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}]`;
    if (binaryFor(t.name)) {
      const b = wireBytes(t);
      blobs.push(b);
      return `${head},"parameters":{"binary_data_size":${b.byteLength}}}`;
    }
    return `${head},"data":${jsonData(t)}}`;
  });
  const idPart = id === undefined ? '' : `,"id":${JSON.stringify(id)}`;
  const json = `{"model_name":${JSON.stringify(model)},"model_version":"${version}"${idPart},"outputs":[${parts.join(',')}]}`;
  if (blobs.length === 0) return { body: Buffer.from(json) };
  const head = Buffer.from(json);
  return { body: Buffer.concat([head, ...blobs]), inferenceHeaderLength: head.byteLength };
}
