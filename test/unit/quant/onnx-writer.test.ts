// The ONNX writer of `infera quantize` and its int8 graph rewrite, on the flights-delay model
// trained by the pipeline: a decode → encode round trip keeps the graph and onnxruntime's
// outputs bit for bit; the int8 (DequantizeLinear) file runs in onnxruntime and in the native
// backend (fp32: within 1e-5 of onnxruntime; int8: the same bits as quantizing at load).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { NativeModel } from '../../../src/native/executor';
import { compileGraph } from '../../../src/runtime/graph-plan';
import { encodeOnnxModel } from '../../../src/quant/onnx-model-writer';
import { quantizableLayers, quantizeLayers } from '../../../src/quant/quantize-graph';
import { ONNX_DTYPE, readOnnxFile, readOnnxModel } from '../../../src/runtime/onnx-model-reader';
import { FLIGHTS_ONNX, februaryRows, flightsMissing } from '../native/flights-model';
import { VAD_ONNX } from '../native/real-data';

const skip = flightsMissing();
/** DequantizeLinear in onnxruntime vs q * scale in the executor, then the usual fp32 bound. */
const FP32_MAX_ABS_DIFF = 1e-5;

/**
 * onnxruntime's outputs. 'basic' optimizations keep DequantizeLinear literal (weights back to
 * fp32, then the fp32 Gemm): the ONNX semantics. From 'extended' on, onnxruntime fuses
 * DequantizeLinear → Gemm into its own dynamically quantized int8 MatMul (per-tensor uint8
 * activations), a different computation (measured: 2e-3 off the literal result).
 */
async function ortOut(bytes: Uint8Array, x: Float32Array, rows: number, width: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'basic' });
  const r = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [rows, width]) });
  await s.release();
  return r[s.outputNames[0]].data as Float32Array;
}

test('decode → encode → decode keeps the flights graph, and onnxruntime gives the same bits', { skip }, async () => {
  const bytes = new Uint8Array(fs.readFileSync(FLIGHTS_ONNX));
  const a = readOnnxModel(bytes);
  const again = encodeOnnxModel(a);
  const b = readOnnxModel(again);
  assert.deepEqual(b.graph.nodes, a.graph.nodes);
  assert.deepEqual(b.graph.inputs, a.graph.inputs);
  assert.deepEqual(b.graph.outputs, a.graph.outputs);
  assert.deepEqual([...b.graph.initializers.keys()], [...a.graph.initializers.keys()]);
  for (const [k, t] of a.graph.initializers) assert.deepEqual(b.graph.initializers.get(k), t, k);
  assert.deepEqual(b.opsets, a.opsets);
  const d = await februaryRows(2000);
  assert.deepEqual(await ortOut(again, d.x, d.rows, d.width), await ortOut(bytes, d.x, d.rows, d.width));
});

test('int8 rewrite: DequantizeLinear per output channel; onnxruntime and native agree', { skip }, async () => {
  const model = readOnnxFile(FLIGHTS_ONNX);
  const layers = quantizableLayers(model);
  assert.deepEqual(layers.map((l) => [l.op, l.K, l.N, l.transB]), [['Gemm', layers[0].K, 64, false], ['Gemm', 64, 32, false], ['Gemm', 32, 1, false]]);
  const q = quantizeLayers(model, layers.map((l) => l.node), { 'infera.test': 'yes' });
  const bytes = encodeOnnxModel(q.model);
  const back = readOnnxModel(bytes);
  assert.equal(back.metadata.get('infera.precision'), 'int8');
  assert.equal(back.metadata.get('infera.test'), 'yes');
  assert.equal(back.graph.nodes.filter((n) => n.opType === 'DequantizeLinear').length, 3);
  assert.ok(!back.graph.initializers.has('W0'), 'the fp32 weight is gone');
  assert.equal(back.graph.initializers.get('W0_quantized')!.dataType, ONNX_DTYPE.INT8);
  assert.ok(bytes.byteLength < fs.statSync(FLIGHTS_ONNX).size / 3, `${bytes.byteLength} bytes`);
  const compiled = compileGraph(back);
  assert.equal(compiled.int8Weights, 3);

  const d = await februaryRows(3000);
  const viaOrt = await ortOut(bytes, d.x, d.rows, d.width);
  const fp32 = NativeModel.create(compiled.plan, { precision: 'fp32' }).runSync([d.x], d.rows)[0];
  let diff = 0;
  for (let i = 0; i < fp32.length; i++) diff = Math.max(diff, Math.abs(fp32[i] - viaOrt[i]));
  assert.ok(diff <= FP32_MAX_ABS_DIFF, `native fp32 vs onnxruntime on the int8 file: ${diff}`);
  // The file's int8 weights are what the executor would have made of the fp32 ones.
  const fromFile = NativeModel.create(compiled.plan, { precision: 'int8' }).runSync([d.x], d.rows)[0];
  const atLoad = NativeModel.create(compileGraph(model).plan, { precision: 'int8' }).runSync([d.x], d.rows)[0];
  assert.deepEqual(fromFile, atLoad);
});

test('int8 rewrite of a transB Gemm stores [N x K] with axis 0 and keeps unselected layers fp32', { skip }, async () => {
  const model = readOnnxFile(FLIGHTS_ONNX);
  // Rewrite gemm1 as transB (W1 stored transposed): the real weights, another layout.
  const W1 = model.graph.initializers.get('W1')!;
  const [k, n] = W1.dims;
  const t = new Float32Array(k * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) t[j * k + i] = (W1.data as Float32Array)[i * n + j];
  model.graph.initializers.set('W1', { ...W1, dims: [n, k], data: t });
  const g1 = model.graph.nodes.find((x) => x.name === 'gemm1')!;
  g1.attributes.set('transB', 1);
  g1.attributeTypes.set('transB', 2);
  const q = quantizeLayers(model, ['gemm1'], {});
  const dq = q.model.graph.nodes.find((x) => x.opType === 'DequantizeLinear')!;
  assert.equal(dq.attributes.get('axis'), 0);
  assert.deepEqual(q.model.graph.initializers.get('W1_quantized')!.dims, [n, k]);
  const compiled = compileGraph(readOnnxModel(encodeOnnxModel(q.model)));
  const int8 = NativeModel.create(compiled.plan, { precision: 'int8' });
  assert.deepEqual(int8.info.steps.filter((s) => s.op === 'gemm').map((s) => s.int8), [false, true, false], 'the file decides which layers are int8');
  const d = await februaryRows(2000);
  const viaOrt = await ortOut(encodeOnnxModel(q.model), d.x, d.rows, d.width);
  const fp32 = NativeModel.create(compiled.plan, { precision: 'fp32' }).runSync([d.x], d.rows)[0];
  for (let i = 0; i < fp32.length; i++) assert.ok(Math.abs(fp32[i] - viaOrt[i]) <= FP32_MAX_ABS_DIFF, `row ${i}`);
});

test('BAD MODEL - graphs the writer cannot keep, layers that are not quantizable', () => {
  const vad = readOnnxFile(VAD_ONNX);
  assert.throws(() => encodeOnnxModel(vad), /node '.*': attribute '.*' has a type \(5\) the reader does not decode/);
  assert.throws(() => quantizeLayers(vad, ['nope'], {}), /layer 'nope' is not a Gemm\/MatMul with an fp32 initializer weight/);
});

test('STRINGS attributes (type 8, field 9) survive encode → decode: the fitted origin-airport vocabulary', { skip }, () => {
  const spec = JSON.parse(fs.readFileSync(FLIGHTS_ONNX.replace(/model\.onnx$/, 'feature_spec.json'), 'utf8'));
  const vocabulary: string[] = spec.blocks.find((b: { kind: string; input: string }) => b.kind === 'categorical' && b.input === 'origin').vocabulary;
  // Non-ASCII and empty entries too: the field holds bytes, written and read as UTF-8.
  const strings = [...vocabulary, 'ÖRD', ''];
  const model = readOnnxFile(FLIGHTS_ONNX);
  model.opsets.set('ai.onnx.ml', 3);
  model.graph.nodes.push({
    name: 'lookup', opType: 'CategoryMapper', domain: 'ai.onnx.ml', inputs: ['code'], outputs: ['index'],
    attributes: new Map<string, string[] | number[] | number>([['cats_strings', strings], ['cats_int64s', strings.map((_, i) => i)], ['default_int64', -1]]),
    attributeTypes: new Map([['cats_strings', 8], ['cats_int64s', 7], ['default_int64', 2]]),
  });
  const back = readOnnxModel(encodeOnnxModel(model)).graph.nodes.at(-1)!;
  assert.deepEqual(back.attributes.get('cats_strings'), strings);
  assert.deepEqual(back.attributes.get('cats_int64s'), strings.map((_, i) => i));
  assert.equal(back.attributes.get('default_int64'), -1);
  assert.deepEqual([...back.attributeTypes], [['cats_strings', 8], ['cats_int64s', 7], ['default_int64', 2]]);
  assert.ok(![...back.attributes.keys()].some((k) => k.startsWith('__unreadable__')));
});
