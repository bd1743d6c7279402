/**
 * A minimal protobuf writer for the ONNX messages the exported models need (ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto), and the export of a
 * Network:
 *   features FP32 [N, width] → Gemm → Relu → … → Gemm → Sigmoid → probability FP32 [N, 1].
 * Tree ensembles (src/pipeline/gbdt.ts) use the same writer with the ai.onnx.ml domain:
 * list and string attributes, INT64 initializers, a node domain, several opset imports.
 * Field numbers follow onnx/onnx.proto (proto2: repeated scalars written unpacked).
 */
import { Network } from './network';

// Protobuf wire types.
const VARINT = 0;
const LEN = 2;
const I32 = 5;

/** Appends protobuf fields to a growing list of byte chunks. */
class ProtoWriter {
  private chunks: Uint8Array[] = [];

  private varintBytes(value: number | bigint): Uint8Array {
    // int64 semantics: negative numbers as 10-byte two's complement.
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return Uint8Array.from(out);
  }

  private tag(field: number, wire: number): void {
    this.chunks.push(this.varintBytes((field << 3) | wire));
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, VARINT);
    this.chunks.push(this.varintBytes(value));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.chunks.push(b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, LEN);
    this.chunks.push(this.varintBytes(data.length), data);
    return this;
  }

  string(field: number, text: string): this {
    return this.bytes(field, new TextEncoder().encode(text));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    build(w);
    return this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    const n = this.chunks.reduce((s, c) => s + c.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export const TENSOR_FLOAT = 1;
export const TENSOR_INT64 = 7;

/** A dimension: a fixed size, or a symbolic name for a variable one (-1 in model.json). */
export type Dim = number | string;

/** An attribute value: a plain number is an INT; the others name their ONNX type. */
export type OnnxAttribute = number | { float: number } | { string: string } | { floats: ArrayLike<number> } | { ints: ArrayLike<number> } | { strings: string[] };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  /** Operator domain ('' = the default ONNX domain, e.g. 'ai.onnx.ml'). */
  domain?: string;
  attributes?: Record<string, OnnxAttribute>;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  /** FP32 tensors from a Float32Array, INT64 tensors from a BigInt64Array. */
  initializers: { name: string; dims: number[]; data: Float32Array | BigInt64Array }[];
  inputs: { name: string; shape: Dim[] }[];
  outputs: { name: string; shape: Dim[] }[];
}

export interface OnnxModelOptions {
  /** Version of the default ONNX domain. */
  opset: number;
  /** Further operator sets, e.g. [{ domain: 'ai.onnx.ml', version: 3 }]. */
  opsets?: { domain: string; version: number }[];
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

function valueInfo(w: ProtoWriter, v: { name: string; shape: Dim[] }): void {
  w.string(1, v.name).message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, TENSOR_FLOAT).message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

// AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, strings 9, type 20
// (FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7, STRINGS 8).
function attribute(a: ProtoWriter, name: string, v: OnnxAttribute): void {
  a.string(1, name);
  if (typeof v === 'number') a.int(3, v).int(20, 2);
  else if ('float' in v) a.float(2, v.float).int(20, 1);
  else if ('string' in v) a.string(4, v.string).int(20, 3);
  else if ('floats' in v) {
    for (let i = 0; i < v.floats.length; i++) a.float(7, v.floats[i]);
    a.int(20, 6);
  } else if ('ints' in v) {
    for (let i = 0; i < v.ints.length; i++) a.int(8, v.ints[i]);
    a.int(20, 7);
  } else {
    for (const t of v.strings) a.string(9, t);
    a.int(20, 8);
  }
}

/** Serialises a ModelProto (tensors FP32 or INT64, little-endian raw_data). */
export function encodeModel(graph: OnnxGraph, opts: OnnxModelOptions): Uint8Array {
  const m = new ProtoWriter();
  m.int(1, opts.irVersion ?? 8);
  m.string(2, opts.producerName ?? 'infera');
  m.string(3, opts.producerVersion ?? '0');
  if (opts.docString) m.string(6, opts.docString);
  m.message(7, (g) => {
    for (const n of graph.nodes) {
      g.message(1, (node) => {
        for (const i of n.inputs) node.string(1, i);
        for (const o of n.outputs) node.string(2, o);
        node.string(3, n.name).string(4, n.op);
        for (const [name, v] of Object.entries(n.attributes ?? {})) node.message(5, (a) => attribute(a, name, v));
        if (n.domain) node.string(7, n.domain);
      });
    }
    g.string(2, graph.name);
    for (const t of graph.initializers) {
      g.message(5, (tp) => {
        for (const d of t.dims) tp.int(1, d);
        const d = t.data;
        const int64 = d instanceof BigInt64Array;
        const raw = new Uint8Array(d.length * (int64 ? 8 : 4));
        const view = new DataView(raw.buffer);
        if (int64) d.forEach((x, i) => view.setBigInt64(i * 8, x, true));
        else d.forEach((x, i) => view.setFloat32(i * 4, x, true));
        tp.int(2, int64 ? TENSOR_INT64 : TENSOR_FLOAT).string(8, t.name).bytes(9, raw);
      });
    }
    for (const i of graph.inputs) g.message(11, (w) => valueInfo(w, i));
    for (const o of graph.outputs) g.message(12, (w) => valueInfo(w, o));
  });
  m.message(8, (op) => op.string(1, '').int(2, opts.opset));
  for (const o of opts.opsets ?? []) m.message(8, (op) => op.string(1, o.domain).int(2, o.version));
  for (const [key, value] of Object.entries(opts.metadata ?? {})) m.message(14, (e) => e.string(1, key).string(2, value));
  return m.finish();
}

/** The graph of a trained network: Gemm (B = W [in × out], C = b) with Relu between, Sigmoid last. */
export function networkGraph(net: Network, names = { input: 'features', output: 'probability' }): OnnxGraph {
  const width = net.layers[0].inSize;
  const nodes: OnnxNode[] = [];
  const initializers: OnnxGraph['initializers'] = [];
  let x = names.input;
  net.layers.forEach((layer, l) => {
    initializers.push({ name: `W${l}`, dims: [layer.inSize, layer.outSize], data: layer.W }, { name: `b${l}`, dims: [layer.outSize], data: layer.b });
    const z = `z${l}`;
    nodes.push({ op: 'Gemm', name: `gemm${l}`, inputs: [x, `W${l}`, `b${l}`], outputs: [z], attributes: { alpha: { float: 1 }, beta: { float: 1 }, transA: 0, transB: 0 } });
    if (l < net.layers.length - 1) {
      nodes.push({ op: 'Relu', name: `relu${l}`, inputs: [z], outputs: [`h${l}`] });
      x = `h${l}`;
    } else {
      nodes.push({ op: 'Sigmoid', name: 'sigmoid', inputs: [z], outputs: [names.output] });
    }
  });
  return {
    name: 'infera_mlp',
    nodes,
    initializers,
    inputs: [{ name: names.input, shape: ['N', width] }],
    outputs: [{ name: names.output, shape: ['N', 1] }],
  };
}

/** ONNX bytes of a trained network (opset ≥ 13). */
export function exportOnnx(net: Network, opts: OnnxModelOptions): Uint8Array {
  if (opts.opset < 13) throw new Error(`exportOnnx: opset ${opts.opset} < 13`);
  return encodeModel(networkGraph(net), opts);
}
