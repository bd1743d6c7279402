/**
 * Rewrites an fp32 ONNX graph into the int8 form `infera quantize` writes: for each chosen
 * Gemm/MatMul, its fp32 weight initializer W becomes
 *   W_q (INT8, same dims) + W_scale (FP32 [N]) + W_zero_point (INT8 zeros [N])
 *   → DequantizeLinear(axis = the output-channel axis) → the node's B input
 * i.e. per-output-channel symmetric int8 weights, standard ONNX (opset ≥ 13): onnxruntime runs
 * the file as is (dequantizing the weights), the native backend runs those layers as int8
 * GEMMs with dynamic per-row activation scales. The quantization itself is the native
 * `quantizeWeights` (the one the executor uses). Metadata: infera.precision = int8.
 */
import { quantizeWeights } from '../native/kernels';
import { OnnxModel, OnnxNode, OnnxTensor, ONNX_DTYPE } from '../runtime/onnx-model-reader';
import { PRECISION_METADATA_KEY } from '../runtime/native-backend';

/** A Gemm/MatMul whose B is an fp32 initializer: a candidate for int8. */
export interface QuantizableLayer {
  /** The node's name (the native plan step of the same name). */
  node: string;
  op: 'Gemm' | 'MatMul';
  weight: string;
  K: number;
  N: number;
  transB: boolean;
}

export const QUANTIZATION_METADATA_KEY = 'infera.quantization';

/**
 * The Gemm/MatMul nodes with a constant fp32 2-D weight.
 * @returns them in graph order.
 */
export function quantizableLayers(model: OnnxModel): QuantizableLayer[] {
  const out: QuantizableLayer[] = [];
  for (const n of model.graph.nodes) {
    if ((n.opType !== 'Gemm' && n.opType !== 'MatMul') || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const w = model.graph.initializers.get(n.inputs[1]);
    if (!w || !(w.data instanceof Float32Array) || w.dims.length !== 2) continue;
    const transB = n.opType === 'Gemm' && n.attributes.get('transB') === 1;
    const [K, N] = transB ? [w.dims[1], w.dims[0]] : w.dims;
    out.push({ node: n.name, op: n.opType, weight: w.name, K, N, transB });
  }
  return out;
}

function unique(model: OnnxModel, base: string): string {
  const taken = new Set<string>([...model.graph.initializers.keys(), ...model.graph.nodes.flatMap((n) => [...n.inputs, ...n.outputs, n.name])]);
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

/**
 * A copy of `model` with the weights of the named layers stored as int8 (see the file comment).
 * @returns the new model (the input is not modified) and, per layer, the int8 weight stats.
 * @throws Error when a named layer is not quantizable or the opset is below 13 (per-axis
 *   DequantizeLinear), or a weight is not finite.
 */
export function quantizeLayers(model: OnnxModel, layers: readonly string[], metadata: Record<string, string>): { model: OnnxModel; weights: { node: string; bytesBefore: number; bytesAfter: number }[] } {
  if ((model.opsets.get('') ?? 0) < 13) throw new Error(`opset ${model.opsets.get('') ?? 0} < 13: per-channel DequantizeLinear needs opset 13`);
  const candidates = new Map(quantizableLayers(model).map((l) => [l.node, l]));
  const out: OnnxModel = {
    ...model,
    metadata: new Map(model.metadata),
    graph: { ...model.graph, nodes: [...model.graph.nodes], initializers: new Map(model.graph.initializers) },
  };
  const weights: { node: string; bytesBefore: number; bytesAfter: number }[] = [];
  for (const name of layers) {
    const layer = candidates.get(name);
    if (!layer) throw new Error(`layer '${name}' is not a Gemm/MatMul with an fp32 initializer weight`);
    const w = model.graph.initializers.get(layer.weight)!;
    const { q, scales } = quantizeWeights(w.data as Float32Array, layer.K, layer.N, { transB: layer.transB });
    // The file keeps B's layout: [K x N] (axis 1 = N) or, with transB, [N x K] (axis 0).
    const stored = layer.transB ? transposeI8(q, layer.K, layer.N) : q;
    const [qName, sName, zName, dqOut] = [`${layer.weight}_quantized`, `${layer.weight}_scale`, `${layer.weight}_zero_point`, `${layer.weight}_dequantized`].map((b) => unique(out, b));
    const tensors: OnnxTensor[] = [
      { name: qName, dims: [...w.dims], dataType: ONNX_DTYPE.INT8, data: stored },
      { name: sName, dims: [layer.N], dataType: ONNX_DTYPE.FLOAT, data: scales },
      { name: zName, dims: [layer.N], dataType: ONNX_DTYPE.INT8, data: new Int8Array(layer.N) },
    ];
    for (const t of tensors) out.graph.initializers.set(t.name, t);
    const dq: OnnxNode = {
      name: unique(out, `${name}_dequantize_weight`), opType: 'DequantizeLinear', domain: '',
      inputs: [qName, sName, zName], outputs: [dqOut],
      attributes: new Map([['axis', layer.transB ? 0 : 1]]), attributeTypes: new Map([['axis', 2]]),
    };
    const at = out.graph.nodes.findIndex((n) => n.name === name);
    const node = out.graph.nodes[at];
    out.graph.nodes[at] = { ...node, inputs: node.inputs.map((x, i) => (i === 1 ? dqOut : x)) };
    out.graph.nodes.splice(at, 0, dq);
    // Drop the fp32 weight unless another node still reads it.
    if (!out.graph.nodes.some((n) => n.inputs.includes(layer.weight))) out.graph.initializers.delete(layer.weight);
    weights.push({ node: name, bytesBefore: w.data.byteLength, bytesAfter: stored.byteLength + scales.byteLength + layer.N });
  }
  out.metadata.set(PRECISION_METADATA_KEY, 'int8');
  for (const [k, v] of Object.entries(metadata)) out.metadata.set(k, v);
  return { model: out, weights };
}

function transposeI8(d: Int8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(d.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = d[r * cols + c];
  return out;
}
