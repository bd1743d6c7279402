// The native backend against onnxruntime-node in this process, on the flights-delay model
// trained by the pipeline and real held-out February 2001 rows: fp32 within 1e-5 of
// onnxruntime, int8 AUC within a bounded drop, every supported operator (a graph rebuilt
// from the model's real weights with the pipeline's ONNX writer), and refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { auc } from '../../../src/stats/classification';
import { encodeModel, OnnxGraph } from '../../../src/pipeline/onnx-writer';
import { NativeBackend } from '../../../src/runtime/native-backend';
import { floatInitializer, readOnnxFile } from '../../../src/runtime/onnx-model-reader';
import { Tensor } from '../../../src/protocol/datatypes';
import type { ExecutionSite } from '../../../src/runtime/execution-site';
import { FLIGHTS_ONNX, februaryRows, flightsMissing } from '../native/flights-model';
import { VAD_ONNX } from '../native/real-data';

/** fp32: the native executor sums in another order than MLAS; the brief's bound. */
const FP32_MAX_ABS_DIFF = 1e-5;
/** int8 (per-channel weights, dynamic per-row activations) may cost at most this much AUC. */
const INT8_MAX_AUC_DROP = 0.002;
const ROWS = 20000;
const skip = flightsMissing();

async function ortRun(session: ort.InferenceSession, x: Float32Array, width: number, rows: number, batch = 256): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array[]> = {};
  for (let r = 0; r < rows; r += batch) {
    const n = Math.min(batch, rows - r);
    const res = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.slice(r * width, (r + n) * width), [n, width]) });
    for (const [k, t] of Object.entries(res)) (out[k] ??= []).push(t.data as Float32Array);
  }
  return Object.fromEntries(Object.entries(out).map(([k, list]) => [k, concat(list)]));
}

function concat(list: Float32Array[]): Float32Array {
  const all = new Float32Array(list.reduce((s, a) => s + a.length, 0));
  let o = 0;
  for (const a of list) {
    all.set(a, o);
    o += a.length;
  }
  return all;
}

/** Runs all rows through the backend in batches of the given sizes (cycled). */
async function nativeRun(b: NativeBackend, key: string, x: Float32Array, width: number, rows: number, outputs: string[], batches: number[], site?: ExecutionSite): Promise<Record<string, Float32Array>> {
  const parts: Record<string, Float32Array[]> = {};
  for (let r = 0, i = 0; r < rows; i++) {
    const n = Math.min(batches[i % batches.length], rows - r);
    const t: Tensor = { name: 'features', datatype: 'FP32', shape: [n, width], data: x.slice(r * width, (r + n) * width) };
    const res = await b.run(key, [t], outputs, site ? { site } : undefined);
    res.forEach((o) => (parts[o.name] ??= []).push(o.data as Float32Array));
    r += n;
  }
  return Object.fromEntries(Object.entries(parts).map(([k, list]) => [k, concat(list)]));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test('native fp32 equals onnxruntime within 1e-5 on real February rows (1 and 2 threads, odd batches, inline and pooled)', { skip }, async (t) => {
  const data = await februaryRows(ROWS);
  const session = await ort.InferenceSession.create(FLIGHTS_ONNX, { intraOpNumThreads: 1 });
  const ref = (await ortRun(session, data.x, data.width, data.rows)).probability;
  const b = new NativeBackend();
  const meta = await b.load('f1', FLIGHTS_ONNX, { intraOpThreads: 1 });
  assert.deepEqual(meta, { inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, data.width] }], outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }] });
  await b.load('f2', FLIGHTS_ONNX, { intraOpThreads: 2 });
  assert.equal(b.describe('f2')!.precision, 'fp32');
  const batches = [256, 1, 7, 64, 255, 1000];
  const one = (await nativeRun(b, 'f1', data.x, data.width, data.rows, ['probability'], batches)).probability;
  const two = (await nativeRun(b, 'f2', data.x, data.width, data.rows, ['probability'], batches)).probability;
  const d = maxAbsDiff(one, ref);
  t.diagnostic(`${data.rows} February rows: max |native fp32 - onnxruntime| = ${d.toExponential(2)} (kernel ${b.describe('f1')!.kernels.f32})`);
  assert.ok(d <= FP32_MAX_ABS_DIFF, `max abs diff ${d}`);
  assert.deepEqual(two, one, 'row chunks on two threads give the same bits as one thread');
  // An inline batch runs on the calling thread (no libuv hop): the same bits.
  const inline = (await nativeRun(b, 'f2', data.x, data.width, data.rows, ['probability'], batches, 'inline')).probability;
  assert.deepEqual(inline, one, 'inline and pooled runs give the same bits');
  await session.release();
});

test('native int8: the AUC drop on real February rows is bounded', { skip }, async (t) => {
  const data = await februaryRows(ROWS);
  const session = await ort.InferenceSession.create(FLIGHTS_ONNX, { intraOpNumThreads: 1 });
  const ref = (await ortRun(session, data.x, data.width, data.rows)).probability;
  const b = new NativeBackend();
  await b.load('q', FLIGHTS_ONNX, { intraOpThreads: 2, precision: 'int8' });
  const info = b.describe('q')!;
  assert.equal(info.precision, 'int8');
  assert.ok(info.steps.filter((s) => s.op === 'gemm').every((s) => s.int8));
  const p = (await nativeRun(b, 'q', data.x, data.width, data.rows, ['probability'], [256, 33])).probability;
  const [aucRef, aucQ] = [auc(data.labels, ref), auc(data.labels, p)];
  t.diagnostic(`${data.rows} February rows: AUC onnxruntime fp32 ${aucRef.toFixed(5)}, native int8 ${aucQ.toFixed(5)} (drop ${(aucRef - aucQ).toFixed(5)}, bound ${INT8_MAX_AUC_DROP}); max |dp| ${maxAbsDiff(p, ref).toExponential(2)}; kernel ${info.kernels.int8}`);
  assert.ok(aucRef - aucQ <= INT8_MAX_AUC_DROP, `AUC drop ${aucRef - aucQ}`);
  await session.release();
});

test('every supported operator matches onnxruntime (a graph rebuilt from the real weights)', { skip }, async () => {
  const m = readOnnxFile(FLIGHTS_ONNX);
  const [W0, b0, W1, b1, W2, b2] = ['W0', 'b0', 'W1', 'b1', 'W2', 'b2'].map((n) => floatInitializer(m, n)!);
  const [K, H1, H2] = [W0.dims[0], W0.dims[1], W1.dims[1]];
  const W1T = new Float32Array(H1 * H2);
  for (let i = 0; i < H1; i++) for (let j = 0; j < H2; j++) W1T[j * H1 + i] = W1.data[i * H2 + j];
  const graph: OnnxGraph = {
    name: 'ops',
    initializers: [
      { name: 'W0', dims: [K, H1], data: W0.data }, { name: 'b0', dims: [H1], data: b0.data },
      { name: 'W1T', dims: [H2, H1], data: W1T }, { name: 'b1', dims: [1, H2], data: b1.data },
      { name: 'W2', dims: [H2, 1], data: W2.data }, { name: 'b2', dims: [1], data: b2.data },
    ],
    nodes: [
      { op: 'MatMul', name: 'mm0', inputs: ['features', 'W0'], outputs: ['m0'] },
      { op: 'Add', name: 'bias0', inputs: ['b0', 'm0'], outputs: ['a0'] },
      { op: 'Tanh', name: 'tanh0', inputs: ['a0'], outputs: ['t0'] },
      { op: 'Add', name: 'residual', inputs: ['a0', 't0'], outputs: ['res'] },
      { op: 'Gemm', name: 'gemm1', inputs: ['t0', 'W1T', 'b1'], outputs: ['g1'], attributes: { transB: 1, alpha: { float: 0.5 }, beta: { float: 2 } } },
      { op: 'Relu', name: 'relu1', inputs: ['g1'], outputs: ['hidden'] },
      { op: 'Softmax', name: 'softmax1', inputs: ['hidden'], outputs: ['s1'], attributes: { axis: -1 } },
      { op: 'Flatten', name: 'flat', inputs: ['s1'], outputs: ['f1'], attributes: { axis: 1 } },
      { op: 'Identity', name: 'id', inputs: ['f1'], outputs: ['softmax'] },
      { op: 'Gemm', name: 'gemm2', inputs: ['hidden', 'W2'], outputs: ['z'] },
      { op: 'Add', name: 'bias2', inputs: ['z', 'b2'], outputs: ['zb'] },
      { op: 'Sigmoid', name: 'sigmoid', inputs: ['zb'], outputs: ['probability'] },
    ],
    inputs: [{ name: 'features', shape: ['N', K] }],
    outputs: [{ name: 'probability', shape: ['N', 1] }, { name: 'hidden', shape: ['N', H2] }, { name: 'softmax', shape: ['N', H2] }, { name: 'res', shape: ['N', H1] }],
  };
  const bytes = encodeModel(graph, { opset: 13 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-native-ops-'));
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, bytes);
  try {
    const data = await februaryRows(2000);
    const session = await ort.InferenceSession.create(bytes);
    const names = graph.outputs.map((o) => o.name);
    const ref = await ortRun(session, data.x, K, data.rows, 300);
    const b = new NativeBackend();
    await b.load('ops', file, { intraOpThreads: 2 });
    const steps = b.describe('ops')!.steps.map((s) => s.op);
    // MatMul+Add -> one gemm with bias; Relu and (Add, Sigmoid) fused into their Gemm;
    // Tanh stays separate (a0 has two readers); Flatten and Identity cost nothing.
    assert.deepEqual(steps, ['gemm', 'tanh', 'add', 'gemm', 'softmax', 'gemm']);
    const got = await nativeRun(b, 'ops', data.x, K, data.rows, names, [300, 1, 999]);
    for (const n of names) assert.ok(maxAbsDiff(got[n], ref[n]) <= FP32_MAX_ABS_DIFF, `${n}: ${maxAbsDiff(got[n], ref[n])}`);
    await session.release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('BAD MODEL - an unsupported operator is refused at load, naming it and its node', async () => {
  const b = new NativeBackend();
  await assert.rejects(b.load('vad', VAD_ONNX, { intraOpThreads: 1 }), /model\.onnx: unsupported operators Equal \(node '[^']*'\), If \(node '[^']*'\); the native backend runs Gemm, MatMul, Add, Relu, Sigmoid, Tanh, Softmax, Flatten, Identity$/);
});

test('BAD CALL - precision, run names, types and shapes are checked', { skip }, async () => {
  const b = new NativeBackend();
  await assert.rejects(b.load('x', FLIGHTS_ONNX, { intraOpThreads: 1, precision: 'int4' as 'int8' }), /precision 'int4' is neither 'fp32' nor 'int8'/);
  const meta = await b.load('f', FLIGHTS_ONNX, { intraOpThreads: 1 });
  const w = meta.inputs[0].shape![1];
  const x = (await februaryRows(2000)).x.slice(0, 2 * w);
  await assert.rejects(b.run('nope', [], ['probability']), /model 'nope' is not loaded/);
  await assert.rejects(b.run('f', [], ['probability']), /input 'features' is missing/);
  await assert.rejects(b.run('f', [{ name: 'features', datatype: 'FP32', shape: [1, 2 * w], data: x }], ['probability']), new RegExp(`input 'features' has shape \\[1,${2 * w}\\], expected \\[rows, ${w}\\]`));
  await assert.rejects(b.run('f', [{ name: 'features', datatype: 'FP64', shape: [2, w], data: Float64Array.from(x) }], ['probability']), /must be FP32, got FP64/);
  await assert.rejects(b.run('f', [{ name: 'features', datatype: 'FP32', shape: [2, w], data: x }], ['logit']), /unknown output 'logit'/);
  const [out] = await b.run('f', [{ name: 'features', datatype: 'FP32', shape: [0, w], data: new Float32Array(0) }], ['probability']);
  assert.deepEqual(out.shape, [0, 1]);
  await b.unload('f');
  await assert.rejects(b.run('f', [], ['probability']), /is not loaded/);
});

test('concurrent batches on the shared compute pool all come back right', { skip }, async () => {
  const data = await februaryRows(4000);
  const b = new NativeBackend();
  await b.load('c', FLIGHTS_ONNX, { intraOpThreads: 2 });
  const sizes = [1, 300, 64, 999, 256, 7, 513, 2000, 33, 1000, 128, 77];
  let off = 0;
  const jobs = sizes.map((n) => {
    const x = data.x.slice(off * data.width, (off + n) * data.width);
    off = (off + n) % (data.rows - 2000);
    return { n, x };
  });
  const one = await Promise.all(jobs.map((j) => b.run('c', [{ name: 'features', datatype: 'FP32', shape: [j.n, data.width], data: j.x }], ['probability'])));
  for (const [i, j] of jobs.entries()) {
    const [seq] = await b.run('c', [{ name: 'features', datatype: 'FP32', shape: [j.n, data.width], data: j.x }], ['probability']);
    assert.deepEqual(one[i][0].data, seq.data, `batch ${i} (${j.n} rows)`);
  }
});
