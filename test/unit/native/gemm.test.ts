// fp32 and int8 GEMM kernels: every usable variant against the scalar reference, at sizes
// equal to, below, above and multiples of the register tiles (fp32 6x16, int8 4x16 / 6x16,
// int8 k groups of 4), on real matrices: frames of real speech times slices of the Silero
// VAD weights (its STFT basis and learned convolutions). Every addon build is tested.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ADDON_CANDIDATES, PACKAGE_ROOT, loadBindingFrom } from '../../../src/native/binding';
import { BASIS, PROJ, PW_CONV, block, speechFrames, transpose, vadMatrix } from './real-data';

const BUILDS = ADDON_CANDIDATES.filter((f) => fs.existsSync(f));

/** float32 unit roundoff. */
const U = 2 ** -24;
/**
 * fp32 tolerance: a SIMD variant sums in another order (and with FMA), so each output may
 * differ from the sequential reference by the classic bound of two length-K dot products:
 * 2·(K+2)·u·Σ|a·b| (+ the bias and alpha roundings).
 */
function f32Tolerance(absDot: number, K: number, bias: number): number {
  return 2 * (K + 2) * U * absDot + 4 * U * Math.abs(bias) + 1e-30;
}
/** int8 variants must equal the reference exactly: int32 sums are exact, epilogues identical. */
const INT8_VARIANT_TOLERANCE = 0;

const MS = [1, 3, 4, 5, 6, 7, 12, 13, 64, 67];
const NS = [1, 8, 15, 16, 17, 32, 33, 64];
const KS = [1, 3, 4, 5, 31, 32, 33, 256];

const basis = vadMatrix(BASIS); // [258 x 256]
const biasSource = vadMatrix('model.first_layer.0.dw_conv.0.bias').data; // [258]

/** B [K x N] cut from the STFT basis (transposed: B[k][n] = basis[n][k]). */
function weights(K: number, N: number): Float32Array {
  return transpose(block(basis.data, basis.cols, 0, N, 0, K), N, K);
}

/** Σ_k |A[m][k] · B[k][n]| for the tolerance. */
function absDot(A: Float32Array, B: Float32Array, m: number, n: number, K: number, N: number): number {
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.abs(A[m * K + k] * B[k * N + n]);
  return s;
}

test('the real matrices are there', () => {
  assert.ok(BUILDS.length > 0, `no addon built; tried ${ADDON_CANDIDATES.join(', ')}`);
  assert.deepEqual([basis.rows, basis.cols], [258, 256]);
  assert.equal(biasSource.length, 258);
});

for (const file of BUILDS) {
  const b = loadBindingFrom(file);
  const tag = path.relative(PACKAGE_ROOT, file);
  const info = b.kernelInfo();

  test(`${tag}: kernelInfo lists the dispatch tables; ref is always usable`, () => {
    assert.ok(info.gemmF32.usable.includes('ref') && info.int8Gemm.usable.includes('ref'));
    assert.equal(info.gemmF32.selected, info.gemmF32.usable[0]);
    assert.equal(info.int8Gemm.selected, info.int8Gemm.usable[0]);
    const names = info.variants.map((v) => `${v.family}:${v.name}`);
    if (process.arch === 'x64') {
      assert.deepEqual(names, ['gemmF32:avx512f', 'gemmF32:avx2', 'gemmF32:ref', 'int8Gemm:avx512vnni', 'int8Gemm:avxvnni', 'int8Gemm:avx2', 'int8Gemm:ref']);
      const cpu = b.cpuFeatures();
      assert.equal(info.gemmF32.usable.includes('avx2'), cpu.avx2 && cpu.fma);
      assert.equal(info.int8Gemm.usable.includes('avxvnni'), cpu.avx2 && cpu.fma && cpu.avxvnni);
      for (const v of info.variants) if (v.name.startsWith('avx512')) assert.equal(v.state, 'reserved');
    }
  });

  for (const variant of info.gemmF32.usable) {
    test(`${tag}: gemmF32 ${variant} vs ref at tile edges (M ${MS.join('/')}, N ${NS.join('/')}, K ${KS.join('/')})`, () => {
      let checked = 0;
      for (const K of KS) {
        for (const M of MS) {
          const A = speechFrames(M, K);
          for (const N of NS) {
            const B = weights(K, N);
            const bias = biasSource.subarray(0, N);
            const alpha = 0.5;
            const ref = b.gemmF32('ref', A, M, K, B, N, { alpha, bias });
            const got = b.gemmF32(variant, A, M, K, B, N, { alpha, bias });
            for (let m = 0; m < M; m++) {
              for (let n = 0; n < N; n++) {
                const i = m * N + n;
                const tol = f32Tolerance(alpha * absDot(A, B, m, n, K, N), K, bias[n]);
                if (!(Math.abs(got[i] - ref[i]) <= tol)) assert.fail(`M ${M} N ${N} K ${K} (${m}, ${n}): ${got[i]} vs ref ${ref[i]}, tolerance ${tol}`);
              }
            }
            checked++;
          }
        }
      }
      assert.equal(checked, MS.length * NS.length * KS.length);
    });

    test(`${tag}: gemmF32 ${variant}: transB equals the transposed product; a 256 x 256 x 258 STFT`, () => {
      const [M, K, N] = [256, 256, 258];
      const A = speechFrames(M, K, 128);
      const plain = b.gemmF32(variant, A, M, K, transpose(basis.data, N, K), N);
      const viaTrans = b.gemmF32(variant, A, M, K, basis.data, N, { transB: true });
      assert.deepEqual(viaTrans, plain);
      const ref = b.gemmF32('ref', A, M, K, basis.data, N, { transB: true });
      const B = transpose(basis.data, N, K);
      for (let i = 0; i < M * N; i++) {
        const tol = f32Tolerance(absDot(A, B, Math.floor(i / N), i % N, K, N), K, 0);
        if (!(Math.abs(plain[i] - ref[i]) <= tol)) assert.fail(`element ${i}: ${plain[i]} vs ${ref[i]}`);
      }
    });
  }

  for (const variant of info.int8Gemm.usable) {
    test(`${tag}: int8 ${variant} vs ref, bit for bit, at tile edges`, () => {
      for (const K of KS) {
        for (const M of MS) {
          const A = speechFrames(M, K);
          const rowsRef = b.quantizeRows('ref', A, M, K);
          assert.deepEqual(b.quantizeRows(variant, A, M, K), rowsRef, `quantizeRows M ${M} K ${K}`);
          for (const N of NS) {
            const W = weights(K, N);
            const opts = { alpha: 0.5, bias: biasSource.subarray(0, N) };
            const ref = b.int8Gemm('ref', A, M, K, W, N, opts);
            const got = b.int8Gemm(variant, A, M, K, W, N, opts);
            for (let i = 0; i < ref.length; i++) {
              if (!(Math.abs(got[i] - ref[i]) <= INT8_VARIANT_TOLERANCE) && !(Number.isNaN(got[i]) && Number.isNaN(ref[i]))) {
                assert.fail(`M ${M} N ${N} K ${K} element ${i}: ${got[i]} vs ref ${ref[i]}`);
              }
            }
          }
        }
      }
    });

    test(`${tag}: int8 ${variant}: worst-case magnitudes (every |q| = 127, both signs) do not saturate`, () => {
      // Activations ±amax and weights ±127 with the signs of real speech and real weights:
      // every product is ±16129, the case where a u8-offset maddubs would saturate.
      const [M, K, N] = [7, 260, 33];
      const frames = speechFrames(M, K);
      const A = frames.map((x) => (x < 0 ? -0.25 : 0.25));
      const src = block(vadMatrix(PW_CONV).data, 258, 0, 16, 0, 258);
      const q = new Int8Array(K * N);
      for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) q[k * N + n] = src[((k * N + n) * 7) % src.length] < 0 ? -127 : 127;
      const scales = new Float32Array(N).fill(1);
      const got = b.int8Gemm(variant, A, M, K, { q, scales }, N);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += (A[m * K + k] < 0 ? -127 : 127) * q[k * N + n];
          // row scale = 0.25 / 127; the int32 sum is exact, one float multiply remains.
          const want = Math.fround(Math.fround(acc) * Math.fround(Math.fround(0.25 / 127) * 1));
          assert.equal(got[m * N + n], want, `(${m}, ${n})`);
        }
      }
    });

    test(`${tag}: int8 ${variant} vs fp32: within the quantization error bound`, () => {
      // |a·w − Q(a)·Q(w)| ≤ Σ_k (sa/2)|w_k| + |a_k|(sw/2) + sa·sw/4, per output.
      const proj = vadMatrix(PROJ); // [64 x 32] learned weights: B = proj^T is [32 x 64]
      const [M, K, N] = [13, 32, 64];
      const A = speechFrames(M, K, 7);
      const B = transpose(proj.data, 64, 32);
      const f32 = b.gemmF32('ref', A, M, K, B, N);
      const i8 = b.int8Gemm(variant, A, M, K, B, N);
      const rows = b.quantizeRows('ref', A, M, K);
      const w = b.quantizeWeights(B, K, N);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let bound = 0;
          for (let k = 0; k < K; k++) bound += (rows.scales[m] / 2) * Math.abs(B[k * N + n]) + Math.abs(A[m * K + k]) * (w.scales[n] / 2) + (rows.scales[m] * w.scales[n]) / 4;
          const err = Math.abs(i8[m * N + n] - f32[m * N + n]);
          assert.ok(err <= bound * (1 + 1e-5) + 1e-7, `(${m}, ${n}): error ${err} > bound ${bound}`);
        }
      }
    });
  }

  test(`${tag}: quantizeWeights: per-column amax/127 scales, round half to even, transB`, () => {
    const W = vadMatrix(PROJ); // [64 x 32] as B^T
    const B = transpose(W.data, 64, 32); // [K=32 x N=64]
    const q = b.quantizeWeights(B, 32, 64);
    const qt = b.quantizeWeights(W.data, 32, 64, { transB: true });
    assert.deepEqual(qt, q);
    for (let n = 0; n < 64; n++) {
      let amax = 0;
      for (let k = 0; k < 32; k++) amax = Math.max(amax, Math.abs(B[k * 64 + n]));
      assert.equal(q.scales[n], Math.fround(Math.fround(amax) / 127));
      for (let k = 0; k < 32; k++) {
        const x = Math.fround(B[k * 64 + n] / q.scales[n]);
        const r = Math.round(x);
        const even = Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
        assert.equal(q.q[k * 64 + n], Math.max(-127, Math.min(127, even)) + 0);
      }
    }
  });

  test(`${tag}: quantizeRows: zero rows get scale 0, rows with NaN/Inf give NaN outputs`, () => {
    const K = 40;
    const A = speechFrames(3, K);
    A.fill(0, 0, K);
    A[K + 5] = NaN;
    const rows = b.quantizeRows('ref', A, 3, K);
    assert.equal(rows.scales[0], 0);
    assert.ok(Number.isNaN(rows.scales[1]));
    assert.ok(rows.scales[2] > 0);
    for (const variant of info.int8Gemm.usable) {
      assert.deepEqual(b.quantizeRows(variant, A, 3, K), rows);
      const out = b.int8Gemm(variant, A, 3, K, weights(K, 5), 5);
      assert.deepEqual(Array.from(out.subarray(0, 5)), [0, 0, 0, 0, 0]);
      assert.ok(Array.from(out.subarray(5, 10)).every(Number.isNaN));
    }
  });

  test(`BAD CALL - ${tag}: kernel arguments are checked before any work`, () => {
    const A = speechFrames(2, 4);
    const B = weights(4, 3);
    assert.throws(() => b.gemmF32('sse9', A, 2, 4, B, 3), { name: 'RangeError', message: /unknown or unusable gemmF32 variant 'sse9' \(usable: .*ref, auto\)/ });
    assert.throws(() => b.gemmF32('ref', A, 2, 5, B, 3), { name: 'TypeError', message: 'A has 8 elements, expected 10' });
    assert.throws(() => b.gemmF32('ref', A, 2, 4, new Float64Array(12) as unknown as Float32Array, 3), { name: 'TypeError', message: 'B must be a Float32Array' });
    assert.throws(() => b.gemmF32('ref', A, 2, 4, B, 3, { bias: new Float32Array(2) }), { message: 'bias has 2 elements, expected 3' });
    assert.throws(() => b.gemmF32('ref', A, -1, 4, B, 3), { message: 'M must be a non-negative safe integer' });
    assert.throws(() => b.gemmF32('ref', A, 2, 4, B, 3, { alpha: NaN }), { message: 'alpha must be a finite number' });
    assert.throws(() => b.int8Gemm('ref', A, 2, 4, { q: new Int8Array(12).fill(-128), scales: new Float32Array(3) }, 3), { message: /-128 is outside \[-127, 127\]/ });
    assert.throws(() => b.int8Gemm('ref', A, 2, 4, { q: new Int8Array(11), scales: new Float32Array(3) }, 3), { message: 'W.q has 11 elements, expected 12' });
    const bad = Float32Array.from(B);
    bad[4] = Infinity;
    assert.throws(() => b.quantizeWeights(bad, 4, 3), { message: 'weight element (1, 1) is not finite' });
    assert.deepEqual(b.gemmF32('ref', new Float32Array(0), 0, 4, B, 3), new Float32Array(0));
  });
}
