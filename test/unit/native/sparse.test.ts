// Sparse-input kernels (CSR scan + sparse GEMM) against the dense ones, bit for bit, for every
// usable variant: rows of real one-hot flights features (a spec fitted on January 2001, applied
// to February) times slices of real weights (the Silero VAD STFT basis) at tile-edge widths;
// plus all-zero and non-finite rows, dense rows (real speech) and the executor switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { transform } from '../../../src/features';
import { ADDON_CANDIDATES, PACKAGE_ROOT, loadBindingFrom } from '../../../src/native/binding';
import { NativeModel } from '../../../src/native/executor';
import { compileGraph } from '../../../src/runtime/graph-plan';
import { readOnnxFile } from '../../../src/runtime/onnx-model-reader';
import { realFlights } from './flights-columns';
import { FLIGHTS_ONNX, februaryRows, flightsMissing } from './flights-model';
import { BASIS, block, speechFrames, transpose, vadMatrix } from './real-data';

const BUILDS = ADDON_CANDIDATES.filter((f) => fs.existsSync(f));
/** The sparse kernels sum the same non-zero terms in the same order: no tolerance. */
const SPARSE_TOLERANCE = 0;
const K = 256; // feature columns used (the basis has 256 columns)
const NS = [1, 15, 16, 17, 33, 64];
const MS = [1, 5, 6, 7, 64, 301];

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && Math.abs(a[i] - b[i]) > SPARSE_TOLERANCE) assert.fail(`${what}: element ${i}: sparse ${a[i]} vs dense ${b[i]}`);
}

/** The first K columns of real transformed February rows (numerics, cyclic, one-hots, airports). */
async function featureRows(rows: number): Promise<Float32Array> {
  const { feb, specs } = await realFlights();
  const t = transform(specs.crosses, feb);
  assert.ok(t.width >= K, `spec width ${t.width}`);
  const out = block(t.data, t.width, 0, rows, 0, K);
  let nnz = 0;
  for (const v of out) nnz += v !== 0 ? 1 : 0;
  assert.ok(nnz < (rows * K) / 8, `features are sparse (${nnz} non-zeros in ${rows} x ${K})`);
  return out;
}

const basis = vadMatrix(BASIS);
const weights = (N: number) => transpose(block(basis.data, basis.cols, 0, N, 0, K), N, K); // [K x N]

for (const file of BUILDS) {
  const b = loadBindingFrom(file);
  const tag = path.relative(PACKAGE_ROOT, file);
  const info = b.kernelInfo();

  test(`${tag}: sparse fp32 = dense fp32 per variant, and sparse int8 = dense int8 ref, on real one-hot rows`, async () => {
    const A = await featureRows(Math.max(...MS));
    for (const M of MS) {
      const a = A.subarray(0, M * K);
      for (const N of NS) {
        const W = weights(N);
        const opts = { alpha: 0.75, bias: vadMatrix('model.first_layer.0.dw_conv.0.bias').data.subarray(0, N) };
        for (const v of info.gemmF32.usable) {
          sameBits(b.gemmF32(v, a, M, K, W, N, { ...opts, path: 'sparse' }), b.gemmF32(v, a, M, K, W, N, opts), `fp32 ${v} M ${M} N ${N}`);
        }
        const ref = b.int8Gemm('ref', a, M, K, W, N, opts);
        for (const v of info.int8Gemm.usable) sameBits(b.int8Gemm(v, a, M, K, W, N, { ...opts, path: 'sparse' }), ref, `int8 ${v} M ${M} N ${N}`);
      }
    }
  });

  test(`${tag}: sparse kernels on zero rows, non-finite rows and dense speech rows`, async () => {
    const M = 9;
    const A = Float32Array.from(await featureRows(M));
    A.fill(0, 0, K); // row 0: all zeros
    A[K + 3] = NaN; // row 1
    A[2 * K + 200] = -Infinity; // row 2
    const speech = speechFrames(M, K); // dense rows: the kernels must not care
    for (const [name, a] of [['edge rows', A], ['speech', speech]] as const) {
      for (const N of [16, 17]) {
        const W = weights(N);
        for (const v of info.gemmF32.usable) sameBits(b.gemmF32(v, a, M, K, W, N, { path: 'sparse' }), b.gemmF32(v, a, M, K, W, N), `${name} fp32 ${v}`);
        for (const v of info.int8Gemm.usable) sameBits(b.int8Gemm(v, a, M, K, W, N, { path: 'sparse' }), b.int8Gemm('ref', a, M, K, W, N), `${name} int8 ${v}`);
      }
    }
  });

  test(`${tag}: int8 rows past the exact-float limit (1040 non-zeros) take the int32 path, same bits`, () => {
    // Dense speech rows of 1100 samples; weights: the basis' real values viewed as [1100 x 24].
    const [M, Kd, N] = [6, 1100, 24];
    const a = speechFrames(M, Kd);
    const W = basis.data.slice(0, Kd * N);
    const ref = b.int8Gemm('ref', a, M, Kd, W, N);
    for (const v of info.int8Gemm.usable) sameBits(b.int8Gemm(v, a, M, Kd, W, N, { path: 'sparse' }), ref, `int8 ${v}`);
  });

  test(`BAD CALL - ${tag}: path must be dense or sparse`, () => {
    const a = speechFrames(2, K);
    assert.throws(() => b.gemmF32('ref', a, 2, K, weights(3), 3, { path: 'csr' as 'sparse' }), { message: "path must be 'dense' or 'sparse'" });
  });
}

test('executor: sparseInputs on and off give the same bits on the flights model (fp32, int8; 1 and 2 threads)', { skip: flightsMissing() }, async () => {
  const g = compileGraph(readOnnxFile(FLIGHTS_ONNX));
  const d = await februaryRows(2000);
  for (const precision of ['fp32', 'int8'] as const) {
    const dense = NativeModel.create(g.plan, { precision, sparseInputs: false }).runSync([d.x], d.rows)[0];
    for (const threads of [1, 2]) {
      const m = NativeModel.create(g.plan, { precision, threads, sparseInputs: true });
      sameBits((await m.run([d.x], d.rows))[0], dense, `${precision}, ${threads} thread(s)`);
    }
  }
});
