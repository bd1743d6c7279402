/**
 * Encodes a decoded ONNX model (src/runtime/onnx-model-reader.ts) back to ModelProto bytes,
 * so `infera quantize` can rewrite a graph (int8 initializers, DequantizeLinear nodes,
 * metadata) and save it. Writes what the reader keeps: graph inputs/outputs, initializers
 * (raw_data, little-endian), nodes with FLOAT/INT/STRING/TENSOR/FLOATS/INTS/STRINGS attributes,
 * opsets and metadata_props. Field numbers follow onnx/onnx.proto.
 */
import { OnnxAttributeValue, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from '../runtime/onnx-model-reader';

class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.chunks.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.chunks.push(b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varint(data.length);
    this.chunks.push(data);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    build(w);
    return this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((s, c) => s + c.length, 0));
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

function tensor(w: ProtoWriter, t: OnnxTensor): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType).string(8, t.name);
  // raw_data is little-endian, as the typed arrays are on every platform Node supports.
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice());
}

function attribute(w: ProtoWriter, node: OnnxNode, name: string, v: OnnxAttributeValue): void {
  const type = node.attributeTypes.get(name) ?? 0;
  w.string(1, name);
  switch (type) {
    case 1: w.float(2, v as number); break;
    case 2: w.int(3, v as number | bigint); break;
    case 3: w.string(4, v as string); break;
    case 4: w.message(5, (t) => tensor(t, v as OnnxTensor)); break;
    case 6: for (const f of v as Float32Array) w.float(7, f); break;
    case 7: for (const i of v as (number | bigint)[]) w.int(8, i); break;
    case 8: for (const s of v as string[]) w.string(9, s); break;
    default: throw new Error(`node '${node.name}': attribute '${name}' of type ${type} cannot be written`);
  }
  w.int(20, type);
}

function valueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name).message(2, (type) =>
    type.message(1, (tt) => {
      tt.int(1, v.elemType);
      if (v.shape) {
        tt.message(2, (shape) => {
          for (const d of v.shape!) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : typeof d === 'string' ? dim.string(2, d) : undefined));
        });
      }
    }),
  );
}

/**
 * Serialises a model.
 * @returns the ModelProto bytes.
 * @throws Error when a node carries an attribute the reader could not decode (it would be lost).
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const m = new ProtoWriter();
  m.int(1, model.irVersion || 8);
  if (model.producerName) m.string(2, model.producerName);
  if (model.producerVersion) m.string(3, model.producerVersion);
  m.message(7, (g) => {
    for (const n of model.graph.nodes) {
      g.message(1, (node) => {
        for (const i of n.inputs) node.string(1, i);
        for (const o of n.outputs) node.string(2, o);
        node.string(3, n.name).string(4, n.opType);
        if (n.domain) node.string(7, n.domain);
        for (const [k, v] of n.attributes) {
          if (k.startsWith('__unreadable__')) throw new Error(`node '${n.name}': ${String(v)}`);
          node.message(5, (a) => attribute(a, n, k, v));
        }
      });
    }
    g.string(2, model.graph.name || 'graph');
    for (const t of model.graph.initializers.values()) g.message(5, (w) => tensor(w, t));
    for (const i of model.graph.inputs) g.message(11, (w) => valueInfo(w, i));
    for (const o of model.graph.outputs) g.message(12, (w) => valueInfo(w, o));
  });
  for (const [domain, version] of model.opsets) m.message(8, (o) => o.string(1, domain).int(2, version));
  for (const [key, value] of model.metadata) m.message(14, (e) => e.string(1, key).string(2, value));
  return m.finish();
}
