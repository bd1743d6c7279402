/**
 * Compiles a decoded ONNX graph (onnx-model-reader.ts) into the native executor's
 * plan: a list of row-wise steps over values of shape [batch, ...static dims]. Supported:
 * Gemm (alpha, beta, transB; transA only on constants — refused on the batch), MatMul with a
 * constant 2-D B, Add, Relu, Sigmoid, Tanh, Softmax, Flatten (axis 1), Identity, plus the
 * constant producers Constant and DequantizeLinear (int8 weights written by `infera quantize`).
 * Any other operator, or a supported one used in a way that would mix rows, is refused here,
 * at load time, with an error naming the operator and the node.
 * Fusions: an Add of a constant row into a Gemm/MatMul becomes its bias; Relu/Sigmoid/Tanh
 * right after a Gemm becomes its epilogue (only when nothing else reads the intermediate).
 */
import type { NativeActivation, NativePlan, NativeStep } from '../native/executor';
import { OnnxModel, OnnxNode, OnnxTensor, ONNX_DTYPE } from './onnx-model-reader';

export const SUPPORTED_OPERATORS = ['Gemm', 'MatMul', 'Add', 'Relu', 'Sigmoid', 'Tanh', 'Softmax', 'Flatten', 'Identity', 'Constant', 'DequantizeLinear'] as const;

/** A graph input or output: its static dims after the batch dim, and the file's declared shape. */
export interface PlanTensor {
  name: string;
  dims: number[];
  /** As declared in the file: symbolic / unknown dims are -1 (null when undeclared). */
  declared: number[] | null;
}

export interface CompiledGraph {
  plan: NativePlan;
  inputs: PlanTensor[];
  outputs: PlanTensor[];
  /** Gemm/MatMul steps whose weights the file stores as int8 (DequantizeLinear). */
  int8Weights: number;
  gemms: number;
}

type Sym =
  | { kind: 'const'; dims: number[]; data: Float32Array }
  | { kind: 'qconst'; dims: number[]; q: Int8Array; scales: Float32Array; axis: number | null }
  | { kind: 'value'; id: number; dims: number[] };

const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

class Compiler {
  private readonly env = new Map<string, Sym>();
  private readonly uses = new Map<string, number>();
  private readonly producer = new Map<number, NativeStep>();
  readonly plan: NativePlan = { values: [], inputs: [], outputs: [], steps: [] };
  readonly ioDims: { inputs: number[][]; outputs: number[][] } = { inputs: [], outputs: [] };
  int8Weights = 0;
  gemms = 0;

  constructor(private readonly model: OnnxModel) {}

  private fail(node: OnnxNode, msg: string): Error {
    return new Error(`${node.opType} node '${node.name}': ${msg}`);
  }

  private value(dims: number[]): Sym & { kind: 'value' } {
    this.plan.values.push(prod(dims));
    return { kind: 'value', id: this.plan.values.length - 1, dims };
  }

  private get(node: OnnxNode, name: string): Sym {
    const s = this.env.get(name);
    if (!s) throw this.fail(node, `input '${name}' is not produced by any earlier node, input or initializer`);
    return s;
  }

  private float(node: OnnxNode, s: Sym): Sym & { kind: 'const' } {
    if (s.kind === 'const') return s;
    if (s.kind === 'value') throw this.fail(node, 'expects a constant here, got a value computed from the batch');
    const data = new Float32Array(s.q.length);
    const inner = s.axis === null ? 1 : prod(s.dims.slice(s.axis + 1));
    const count = s.axis === null ? 1 : s.dims[s.axis];
    for (let i = 0; i < data.length; i++) data[i] = Math.fround(s.q[i] * s.scales[s.axis === null ? 0 : Math.floor(i / inner) % count]);
    return { kind: 'const', dims: s.dims, data };
  }

  private step(step: NativeStep, out: string, sym: Sym & { kind: 'value' }): void {
    this.plan.steps.push(step);
    this.producer.set(sym.id, step);
    this.env.set(out, sym);
  }

  /** The producing Gemm step when `name` is its only reader's input and no graph output. */
  private fusible(name: string, s: Sym): (NativeStep & { op: 'gemm' }) | undefined {
    if (s.kind !== 'value' || (this.uses.get(name) ?? 0) !== 1) return undefined;
    const p = this.producer.get(s.id);
    return p && p.op === 'gemm' && !p.activation ? p : undefined;
  }

  run(): void {
    const g = this.model.graph;
    const unsupported = g.nodes.filter((n) => !(SUPPORTED_OPERATORS as readonly string[]).includes(n.opType) || (n.domain !== '' && n.domain !== 'ai.onnx'));
    if (unsupported.length > 0) {
      const list = unsupported.map((n) => `${n.domain ? `${n.domain}.` : ''}${n.opType} (node '${n.name}')`).join(', ');
      throw new Error(`unsupported operator${unsupported.length > 1 ? 's' : ''} ${list}; the native backend runs ${SUPPORTED_OPERATORS.slice(0, 9).join(', ')}`);
    }
    for (const n of g.nodes) for (const i of n.inputs) if (i) this.uses.set(i, (this.uses.get(i) ?? 0) + 1);
    for (const o of g.outputs) this.uses.set(o.name, (this.uses.get(o.name) ?? 0) + 1);
    for (const [name, t] of g.initializers) this.env.set(name, constOf(t));
    for (const input of g.inputs) {
      if (g.initializers.has(input.name)) continue;
      if (input.elemType !== ONNX_DTYPE.FLOAT) throw new Error(`input '${input.name}': the native backend takes FP32 inputs (ONNX type ${input.elemType})`);
      const shape = input.shape;
      if (!shape || shape.length < 1 || typeof shape[0] === 'number') throw new Error(`input '${input.name}': the first dimension must be the variable batch dimension, shape is [${shape ?? '?'}]`);
      const dims = shape.slice(1).map((d) => {
        if (typeof d !== 'number' || d < 1) throw new Error(`input '${input.name}': dims after the batch must be fixed, shape is [${shape}]`);
        return d;
      });
      const sym = this.value(dims);
      this.env.set(input.name, sym);
      this.plan.inputs.push({ name: input.name, value: sym.id });
      this.ioDims.inputs.push(dims);
    }
    for (const node of g.nodes) this.node(node);
    const taken = new Set(this.plan.inputs.map((i) => i.value));
    for (const out of g.outputs) {
      const s = this.env.get(out.name);
      if (!s) throw new Error(`output '${out.name}' is not produced by the graph`);
      if (s.kind !== 'value') throw new Error(`output '${out.name}' is a constant; the native backend serves computed outputs only`);
      let id = s.id;
      if (taken.has(id)) {
        const copy = this.value(s.dims);
        this.plan.steps.push({ op: 'copy', name: `${out.name}:copy`, input: id, output: copy.id });
        id = copy.id;
      }
      taken.add(id);
      this.plan.outputs.push({ name: out.name, value: id });
      this.ioDims.outputs.push(s.dims);
    }
  }

  private node(node: OnnxNode): void {
    const attr = (k: string, d: number) => {
      const v = node.attributes.get(k);
      return typeof v === 'number' ? v : d;
    };
    const [x, y] = node.inputs;
    const out = node.outputs[0];
    switch (node.opType) {
      case 'Constant': {
        const t = node.attributes.get('value');
        if (!t || typeof t !== 'object' || !('dataType' in t)) throw this.fail(node, "only the 'value' (tensor) form is supported");
        this.env.set(out, constOf(t));
        return;
      }
      case 'DequantizeLinear': {
        const q = this.get(node, x);
        const scale = this.get(node, y);
        const zp = node.inputs[2] ? this.get(node, node.inputs[2]) : undefined;
        if (q.kind !== 'qconst' || q.scales.length !== 0 || scale.kind !== 'const') throw this.fail(node, 'only constant int8 weights with constant scales are supported');
        if (zp && (zp.kind !== 'qconst' || zp.q.some((v) => v !== 0))) throw this.fail(node, 'only zero zero-points (symmetric int8) are supported');
        const axis = scale.data.length === 1 && scale.dims.length <= 1 ? null : (attr('axis', 1) + q.dims.length) % q.dims.length;
        if (axis !== null && scale.data.length !== q.dims[axis]) throw this.fail(node, `${scale.data.length} scales for axis ${axis} of [${q.dims}]`);
        this.env.set(out, { kind: 'qconst', dims: q.dims, q: q.q, scales: scale.data, axis });
        return;
      }
      case 'Gemm':
      case 'MatMul':
        return this.gemm(node, attr);
      case 'Add':
        return this.add(node, this.get(node, x), this.get(node, y), x, y);
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh': {
        const a = this.value1(node, x);
        const act = node.opType.toLowerCase() as NativeActivation;
        const fuse = this.fusible(x, a);
        if (fuse) {
          fuse.activation = act;
          this.env.set(out, a);
          return;
        }
        const o = this.value(a.dims);
        return this.step({ op: act, name: node.name, input: a.id, output: o.id }, out, o);
      }
      case 'Softmax': {
        const a = this.value1(node, x);
        const rank = a.dims.length + 1;
        const opset = this.model.opsets.get('') ?? 13;
        const axis = (attr('axis', opset >= 13 ? -1 : 1) + rank) % rank;
        if (axis === 0) throw this.fail(node, 'softmax over the batch axis would mix rows');
        if (opset >= 13 && axis !== rank - 1) throw this.fail(node, `axis ${axis} is not the last axis`);
        const group = prod(a.dims.slice(axis - 1));
        const o = this.value(a.dims);
        return this.step({ op: 'softmax', name: node.name, input: a.id, output: o.id, group }, out, o);
      }
      case 'Flatten': {
        const a = this.value1(node, x);
        if (attr('axis', 1) !== 1) throw this.fail(node, `axis ${attr('axis', 1)} would merge the batch with other dims (only axis 1 is supported)`);
        this.env.set(out, { ...a, dims: [prod(a.dims)] });
        return;
      }
      case 'Identity':
        this.env.set(out, this.get(node, x));
        return;
    }
  }

  private value1(node: OnnxNode, name: string): Sym & { kind: 'value' } {
    const s = this.get(node, name);
    if (s.kind !== 'value') throw this.fail(node, `input '${name}' is a constant; constant folding is not supported`);
    return s;
  }

  private gemm(node: OnnxNode, attr: (k: string, d: number) => number): void {
    const isGemm = node.opType === 'Gemm';
    const a = this.value1(node, node.inputs[0]);
    if (a.dims.length !== 1) throw this.fail(node, `input A must be 2-D [batch, K], got [batch, ${a.dims}]`);
    if (isGemm && attr('transA', 0) !== 0) throw this.fail(node, 'transA = 1 on the batched input would mix rows');
    const b = this.get(node, node.inputs[1]);
    if (b.kind === 'value') throw this.fail(node, 'B must be a constant (an initializer)');
    if (b.dims.length !== 2) throw this.fail(node, `B must be 2-D, got [${b.dims}]`);
    const transB = isGemm && attr('transB', 0) !== 0;
    const [K, N] = transB ? [b.dims[1], b.dims[0]] : b.dims;
    if (K !== a.dims[0]) throw this.fail(node, `A has ${a.dims[0]} columns, B has K = ${K}`);
    const step: NativeStep & { op: 'gemm' } = { op: 'gemm', name: node.name, input: a.id, output: -1, K, N, alpha: isGemm ? attr('alpha', 1) : 1 };
    // int8 weights stay int8 when the scales run along N (per output channel).
    const nAxis = transB ? 0 : 1;
    if (b.kind === 'qconst' && (b.axis === nAxis || b.axis === null)) {
      step.q = transB ? transposeI8(b.q, N, K) : b.q;
      step.scales = b.axis === null ? new Float32Array(N).fill(b.scales[0]) : b.scales;
      this.int8Weights++;
    } else {
      const f = this.float(node, b);
      step.weight = transB ? transposeF32(f.data, N, K) : f.data;
    }
    const c = isGemm && node.inputs[2] ? this.get(node, node.inputs[2]) : undefined;
    if (c) {
      const row = this.row(node, this.float(node, c), [N]);
      const beta = attr('beta', 1);
      step.bias = beta === 1 ? row : row.map((v) => Math.fround(beta * v));
    }
    const o = this.value([N]);
    step.output = o.id;
    this.gemms++;
    this.step(step, node.outputs[0], o);
  }

  private add(node: OnnxNode, l: Sym, r: Sym, ln: string, rn: string): void {
    if (l.kind !== 'value' && r.kind === 'value') return this.add(node, r, l, rn, ln);
    if (l.kind !== 'value') throw this.fail(node, 'adding two constants (constant folding) is not supported');
    if (r.kind === 'value') {
      if (l.dims.join() !== r.dims.join()) throw this.fail(node, `shapes [batch, ${l.dims}] and [batch, ${r.dims}] differ (broadcasting two batch values is not supported)`);
      const o = this.value(l.dims);
      return this.step({ op: 'add', name: node.name, input: l.id, input2: r.id, output: o.id }, node.outputs[0], o);
    }
    const row = this.row(node, this.float(node, r), l.dims);
    const fuse = this.fusible(ln, l);
    if (fuse) {
      fuse.bias = fuse.bias ? fuse.bias.map((v, i) => Math.fround(v + row[i])) : row;
      this.env.set(node.outputs[0], l);
      return;
    }
    const o = this.value(l.dims);
    this.step({ op: 'add_const', name: node.name, input: l.id, output: o.id, constant: row }, node.outputs[0], o);
  }

  /** A constant broadcast (numpy rules) against [batch, ...dims], as one row of prod(dims) values. */
  private row(node: OnnxNode, c: Sym & { kind: 'const' }, dims: number[]): Float32Array {
    const full = [1, ...dims];
    if (c.dims.length > full.length || (c.dims.length === full.length && c.dims[0] !== 1)) throw this.fail(node, `constant of shape [${c.dims}] does not broadcast along the batch of [batch, ${dims}]`);
    const cd = [...Array(full.length - c.dims.length).fill(1), ...c.dims];
    cd.forEach((d, i) => {
      if (d !== 1 && d !== full[i]) throw this.fail(node, `constant of shape [${c.dims}] does not broadcast to [batch, ${dims}]`);
    });
    const width = prod(dims);
    const out = new Float32Array(width);
    for (let j = 0; j < width; j++) {
      // Index of output column j in the constant (broadcast dims use index 0).
      let rem = j;
      let src = 0;
      let stride = 1;
      for (let i = full.length - 1; i >= 1; i--) {
        const idx = rem % full[i];
        rem = Math.floor(rem / full[i]);
        if (cd[i] !== 1) src += idx * stride;
        stride *= cd[i];
      }
      out[j] = c.data[src];
    }
    return out;
  }
}

function constOf(t: OnnxTensor): Sym {
  if (t.data instanceof Int8Array) return { kind: 'qconst', dims: t.dims, q: t.data, scales: new Float32Array(0), axis: null };
  if (t.data instanceof Float32Array) return { kind: 'const', dims: t.dims, data: t.data };
  if (t.data instanceof Float64Array) return { kind: 'const', dims: t.dims, data: Float32Array.from(t.data) };
  const data = t.data instanceof BigInt64Array ? Float32Array.from(t.data, (v) => Number(v)) : Float32Array.from(t.data as ArrayLike<number>);
  return { kind: 'const', dims: t.dims, data };
}

function transposeF32(d: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(d.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = d[r * cols + c];
  return out;
}

function transposeI8(d: Int8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(d.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = d[r * cols + c];
  return out;
}

function declaredShape(shape: (number | string | null)[] | null): number[] | null {
  return shape ? shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) : null;
}

/**
 * Compiles an ONNX model for the native executor.
 * @returns the plan plus the static dims of every graph input and output.
 * @throws Error naming the operator and node when the graph uses an unsupported operator
 *   (all of them are listed), or a supported one in a form the executor cannot run
 *   (non-constant weights, transA on the batch, softmax/flatten across the batch, …).
 */
export function compileGraph(model: OnnxModel): CompiledGraph {
  const c = new Compiler(model);
  c.run();
  // A file with int8 weights (written by `infera quantize`) decides per layer: the layers it
  // kept in fp32 stay fp32 when the model runs in int8.
  if (c.int8Weights > 0) for (const s of c.plan.steps) if (s.op === 'gemm' && !s.q) s.precision = 'fp32';
  const g = model.graph;
  const tensor = (name: string, dims: number[], declared: (number | string | null)[] | null): PlanTensor => {
    const d = declaredShape(declared);
    if (d && (d.length !== dims.length + 1 || d.slice(1).some((x, i) => x >= 0 && x !== dims[i]))) {
      throw new Error(`'${name}': the file declares shape [${declared}], the graph computes [batch, ${dims}]`);
    }
    return { name, dims, declared: d };
  };
  return {
    plan: c.plan,
    inputs: c.plan.inputs.map((i, k) => tensor(i.name, c.ioDims.inputs[k], g.inputs.find((x) => x.name === i.name)?.shape ?? null)),
    outputs: c.plan.outputs.map((o, k) => tensor(o.name, c.ioDims.outputs[k], g.outputs.find((x) => x.name === o.name)?.shape ?? null)),
    int8Weights: c.int8Weights,
    gemms: c.gemms,
  };
}
