/**
 * A small protobuf reader of ONNX ModelProto: what the native executor and `infera quantize`
 * need (graph inputs/outputs with shapes, initializers from raw_data or the typed *_data
 * fields, nodes with their attributes, opsets, metadata_props). Field numbers follow
 * onnx/onnx.proto; repeated scalars are accepted packed and unpacked, unknown fields are
 * skipped. External data (tensors stored outside the file) is refused with a clear error.
 */
import fs from 'node:fs';

/** ONNX TensorProto.DataType values the reader decodes. */
export const ONNX_DTYPE = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

export type TensorData = Float32Array | Float64Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** TensorProto.DataType. */
  dataType: number;
  data: TensorData;
}

export type OnnxAttributeValue = number | bigint | string | number[] | bigint[] | string[] | Float32Array | OnnxTensor;

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttributeValue>;
  /** AttributeProto.type of each attribute (1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 6 FLOATS, 7 INTS, 8 STRINGS). */
  attributeTypes: Map<string, number>;
}

export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType of the element, 0 when not a tensor. */
  elemType: number;
  /** Dimensions: a number, or a symbolic name / null for unknown. null shape = unknown rank. */
  shape: (number | string | null)[] | null;
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  /** Opset per domain ('' = ai.onnx). */
  opsets: Map<string, number>;
  metadata: Map<string, string>;
  graph: {
    name: string;
    nodes: OnnxNode[];
    initializers: Map<string, OnnxTensor>;
    inputs: OnnxValueInfo[];
    outputs: OnnxValueInfo[];
  };
}

/** Wire-level cursor over one message's bytes. */
class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, start = 0, readonly end = buf.length) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('varint longer than 10 bytes');
    }
  }

  /** A varint as a JS number (int64 semantics; must be a safe integer). */
  int(): number {
    const v = BigInt.asIntN(64, this.varint());
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error(`integer ${v} is not a safe JS number`);
    return Number(v);
  }

  bytes(): Uint8Array {
    const n = this.int();
    if (n < 0 || this.pos + n > this.end) throw new Error('length-delimited field overruns its message');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return new TextDecoder().decode(this.bytes());
  }

  fixed32(): DataView {
    if (this.pos + 4 > this.end) throw new Error('truncated fixed32');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4);
    this.pos += 4;
    return v;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (this.pos > this.end) throw new Error('field overruns its message');
  }

  /** Calls fn(field, wire) for every field; fn returns false to skip it. */
  fields(fn: (field: number, wire: number) => boolean): void {
    while (!this.done()) {
      const key = this.int();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (!fn(field, wire)) this.skip(wire);
    }
  }

  sub(): Reader {
    const b = this.bytes();
    return new Reader(this.buf, b.byteOffset - this.buf.byteOffset, b.byteOffset - this.buf.byteOffset + b.length);
  }
}

/** Repeated varint field, packed (wire 2) or not. */
function pushVarints(r: Reader, wire: number, out: bigint[]): void {
  if (wire === 2) {
    const s = r.sub();
    while (!s.done()) out.push(s.varint());
  } else out.push(r.varint());
}

/** Repeated float field, packed (wire 2) or not. */
function pushFloats(r: Reader, wire: number, out: number[]): void {
  if (wire === 2) {
    const s = r.sub();
    while (!s.done()) out.push(s.fixed32().getFloat32(0, true));
  } else out.push(r.fixed32().getFloat32(0, true));
}

function pushDoubles(r: Reader, wire: number, out: number[]): void {
  const one = (x: Reader) => {
    if (x.pos + 8 > x.end) throw new Error('truncated double');
    out.push(new DataView(x.buf.buffer, x.buf.byteOffset + x.pos, 8).getFloat64(0, true));
    x.pos += 8;
  };
  if (wire === 2) {
    const s = r.sub();
    while (!s.done()) one(s);
  } else one(r);
}

function copyRaw(raw: Uint8Array, bytesPer: number): ArrayBuffer {
  if (raw.length % bytesPer !== 0) throw new Error(`raw_data of ${raw.length} bytes is not a multiple of ${bytesPer}`);
  return raw.slice().buffer; // aligned copy (little-endian hosts only, as ONNX raw_data)
}

function readTensor(r: Reader): OnnxTensor {
  const dims: bigint[] = [];
  const floats: number[] = [];
  const doubles: number[] = [];
  const ints: bigint[] = [];
  const int64s: bigint[] = [];
  let name = '';
  let dataType = 0;
  let raw: Uint8Array | undefined;
  let external = false;
  r.fields((f, w) => {
    if (f === 1) pushVarints(r, w, dims);
    else if (f === 2) dataType = r.int();
    else if (f === 4) pushFloats(r, w, floats);
    else if (f === 5) pushVarints(r, w, ints);
    else if (f === 7) pushVarints(r, w, int64s);
    else if (f === 8) name = r.string();
    else if (f === 9) raw = r.bytes();
    else if (f === 10) pushDoubles(r, w, doubles);
    else if (f === 14) external = r.int() === 1;
    else return false;
    return true;
  });
  if (external) throw new Error(`initializer '${name}' uses external data, which is not supported`);
  const shape = dims.map((d) => Number(d));
  const count = shape.reduce((a, b) => a * b, 1);
  let data: TensorData;
  switch (dataType) {
    case ONNX_DTYPE.FLOAT: data = raw ? new Float32Array(copyRaw(raw, 4)) : Float32Array.from(floats); break;
    case ONNX_DTYPE.DOUBLE: data = raw ? new Float64Array(copyRaw(raw, 8)) : Float64Array.from(doubles); break;
    case ONNX_DTYPE.INT8: data = raw ? new Int8Array(copyRaw(raw, 1)) : Int8Array.from(ints.map(Number)); break;
    case ONNX_DTYPE.UINT8: case ONNX_DTYPE.BOOL: data = raw ? new Uint8Array(copyRaw(raw, 1)) : Uint8Array.from(ints.map(Number)); break;
    case ONNX_DTYPE.INT32: data = raw ? new Int32Array(copyRaw(raw, 4)) : Int32Array.from(ints.map(Number)); break;
    case ONNX_DTYPE.INT64: data = raw ? new BigInt64Array(copyRaw(raw, 8)) : BigInt64Array.from(int64s.map((v) => BigInt.asIntN(64, v))); break;
    default: throw new Error(`initializer '${name}' has ONNX data type ${dataType}, which the reader does not decode`);
  }
  if (data.length !== count) throw new Error(`tensor '${name}' holds ${data.length} elements, its dims [${shape}] need ${count}`);
  return { name, dims: shape, dataType, data };
}

function readAttribute(r: Reader): [string, OnnxAttributeValue, number] {
  let name = '';
  let value: OnnxAttributeValue | undefined;
  const floats: number[] = [];
  const ints: bigint[] = [];
  const strings: string[] = [];
  let type = 0;
  let seen = 0;
  r.fields((f, w) => {
    if (f === 1) name = r.string();
    else if (f === 2) [value, seen] = [r.fixed32().getFloat32(0, true), 1];
    else if (f === 3) [value, seen] = [BigInt.asIntN(64, r.varint()), 2];
    else if (f === 4) [value, seen] = [r.string(), 3];
    else if (f === 5) [value, seen] = [readTensor(r.sub()), 4];
    else if (f === 7) [seen] = [6, pushFloats(r, w, floats)];
    else if (f === 8) [seen] = [7, pushVarints(r, w, ints)];
    else if (f === 9) [seen] = [8, strings.push(r.string())];
    else if (f === 20) type = r.int();
    else return false;
    return true;
  });
  if (type === 0) type = seen; // pre-IR-3 attributes carry no type
  if (type === 6) value = Float32Array.from(floats);
  else if (type === 7) value = ints.map((v) => BigInt.asIntN(64, v));
  else if (type === 8) value = strings;
  // INT attributes: numbers when safe (axes, flags), bigint otherwise.
  if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) value = Number(value);
  if (type === 7 && Array.isArray(value) && value.every((v) => typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER))) {
    value = (value as bigint[]).map(Number);
  }
  if (value === undefined) throw new Error(`attribute '${name}' has a type (${type}) the reader does not decode`);
  return [name, value, type];
}

function readNode(r: Reader): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: new Map(), attributeTypes: new Map() };
  const attrs: Reader[] = [];
  r.fields((f) => {
    if (f === 1) node.inputs.push(r.string());
    else if (f === 2) node.outputs.push(r.string());
    else if (f === 3) node.name = r.string();
    else if (f === 4) node.opType = r.string();
    else if (f === 7) node.domain = r.string();
    else if (f === 5) attrs.push(r.sub());
    else return false;
    return true;
  });
  for (const a of attrs) {
    try {
      const [k, v, type] = readAttribute(a);
      node.attributes.set(k, v);
      node.attributeTypes.set(k, type);
    } catch (e) {
      // Attributes the executor never reads (graphs, strings lists) must not block loading.
      node.attributes.set(`__unreadable__${node.attributes.size}`, (e as Error).message);
    }
  }
  return node;
}

function readValueInfo(r: Reader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', elemType: 0, shape: null };
  r.fields((f) => {
    if (f === 1) info.name = r.string();
    else if (f === 2) {
      const type = r.sub();
      type.fields((tf) => {
        if (tf !== 1) return false; // tensor_type only
        const tt = type.sub();
        tt.fields((ttf) => {
          if (ttf === 1) info.elemType = tt.int();
          else if (ttf === 2) {
            info.shape = [];
            const shape = tt.sub();
            shape.fields((sf) => {
              if (sf !== 1) return false;
              const dim = shape.sub();
              let d: number | string | null = null;
              dim.fields((df) => {
                if (df === 1) d = dim.int();
                else if (df === 2) d = dim.string();
                else return false;
                return true;
              });
              info.shape!.push(d);
              return true;
            });
          } else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return info;
}

/**
 * Decodes an ONNX model.
 * @returns the model's graph, initializers (decoded to typed arrays), opsets and metadata.
 * @throws Error when the bytes are not a well-formed ModelProto, an initializer uses
 *   external data or an undecoded data type, or a tensor's element count disagrees with its dims.
 */
export function readOnnxModel(bytes: Uint8Array): OnnxModel {
  const model: OnnxModel = {
    irVersion: 0, producerName: '', producerVersion: '', opsets: new Map(), metadata: new Map(),
    graph: { name: '', nodes: [], initializers: new Map(), inputs: [], outputs: [] },
  };
  const r = new Reader(bytes);
  let sawGraph = false;
  r.fields((f) => {
    if (f === 1) model.irVersion = r.int();
    else if (f === 2) model.producerName = r.string();
    else if (f === 3) model.producerVersion = r.string();
    else if (f === 7) {
      sawGraph = true;
      const g = r.sub();
      g.fields((gf) => {
        if (gf === 1) model.graph.nodes.push(readNode(g.sub()));
        else if (gf === 2) model.graph.name = g.string();
        else if (gf === 5) {
          const t = readTensor(g.sub());
          model.graph.initializers.set(t.name, t);
        } else if (gf === 11) model.graph.inputs.push(readValueInfo(g.sub()));
        else if (gf === 12) model.graph.outputs.push(readValueInfo(g.sub()));
        else return false;
        return true;
      });
    } else if (f === 8) {
      const o = r.sub();
      let domain = '';
      let version = 0;
      o.fields((of) => {
        if (of === 1) domain = o.string();
        else if (of === 2) version = o.int();
        else return false;
        return true;
      });
      model.opsets.set(domain === 'ai.onnx' ? '' : domain, version);
    } else if (f === 14) {
      const e = r.sub();
      let key = '';
      let value = '';
      e.fields((ef) => {
        if (ef === 1) key = e.string();
        else if (ef === 2) value = e.string();
        else return false;
        return true;
      });
      model.metadata.set(key, value);
    } else return false;
    return true;
  });
  if (!sawGraph) throw new Error('not an ONNX model: no graph');
  return model;
}

/**
 * Reads and decodes an ONNX file.
 * @returns the decoded model (see {@link readOnnxModel}).
 * @throws Error naming the file when it cannot be read or decoded.
 */
export function readOnnxFile(file: string): OnnxModel {
  try {
    return readOnnxModel(new Uint8Array(fs.readFileSync(file)));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/**
 * A float initializer as Float32Array (FLOAT or DOUBLE).
 * @returns the tensor's values, or undefined when `name` is not an initializer.
 * @throws Error when the initializer is not floating point.
 */
export function floatInitializer(model: OnnxModel, name: string): { dims: number[]; data: Float32Array } | undefined {
  const t = model.graph.initializers.get(name);
  if (!t) return undefined;
  if (t.data instanceof Float32Array) return { dims: t.dims, data: t.data };
  if (t.data instanceof Float64Array) return { dims: t.dims, data: Float32Array.from(t.data) };
  throw new Error(`initializer '${name}' is not a float tensor (ONNX type ${t.dataType})`);
}
