// The GPU paths (cmake-js build with nvcc): int8 GEMM with __dp4a against the CPU int8
// reference bit for bit, and the feature tensor written on the device against the TypeScript
// transform, on real data. They need an NVIDIA device: without one (this CI, the node-gyp
// build) they skip, and only the refusal is checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { blockWidth, transform } from '../../../src/features';
import { ADDON_CANDIDATES, PACKAGE_ROOT, addonPath, loadBindingFrom } from '../../../src/native/binding';
import { NativeFeatureTransform } from '../../../src/native/features';
import { realFlights } from './flights-columns';
import { BASIS, block, speechFrames, transpose, vadMatrix } from './real-data';

const BUILDS = ADDON_CANDIDATES.filter((f) => fs.existsSync(f));
/** float32 ulp tolerance of numeric log1p columns (CUDA's log1p vs the CPU's). */
const LOG1P_ULPS = 1;

function ulpDistance(a: number, b: number): number {
  const x = new Int32Array(new Float32Array([a, b]).buffer);
  return Math.abs(x[0] - x[1]);
}

for (const file of BUILDS) {
  const b = loadBindingFrom(file);
  const tag = path.relative(PACKAGE_ROOT, file);
  const info = b.cudaInfo();
  const skip = info.available ? false : `no usable CUDA device (${info.reason})`;

  test(`${tag}: without a device the GPU entry points refuse, naming the reason`, { skip: info.available ? 'a device is present' : false }, () => {
    const W = { q: new Int8Array(8), scales: new Float32Array(2) };
    assert.throws(() => b.cudaInt8Gemm(new Float32Array(4), 1, 4, W, 2), { message: `CUDA is not available: ${info.reason}` });
  });

  test(`${tag}: cudaInt8Gemm equals the CPU int8 reference bit for bit at tile edges`, { skip }, async () => {
    const basis = vadMatrix(BASIS);
    for (const [M, K, N] of [[1, 1, 1], [15, 31, 16], [16, 32, 17], [17, 33, 33], [64, 256, 64], [301, 255, 15]]) {
      const A = speechFrames(M, K);
      const W = b.quantizeWeights(transpose(block(basis.data, basis.cols, 0, N, 0, K), N, K), K, N);
      const opts = { alpha: 0.5, bias: vadMatrix('model.first_layer.0.dw_conv.0.bias').data.slice(0, N) };
      assert.deepEqual(await b.cudaInt8Gemm(A, M, K, W, N, opts), b.int8Gemm('ref', A, M, K, W, N, opts), `${M} x ${K} x ${N}`);
    }
  });

  // NativeFeatureTransform compiles on the addon the process loaded (a handle of one addon
  // file means nothing to another), so this build is tested here only when it is that one.
  const loadedHere = addonPath() === file;
  const featureSkip = skip || (loadedHere ? false : `the feature transform runs on the loaded addon (${path.relative(PACKAGE_ROOT, addonPath())})`);
  test(`${tag}: the GPU feature tensor equals transform (log1p columns within ${LOG1P_ULPS} ulp)`, { skip: featureSkip }, async () => {
    const { feb, specs } = await realFlights();
    for (const spec of [specs.flights, specs.crosses]) {
      const want = transform(spec, feb);
      const got = await NativeFeatureTransform.compile(spec).transformOnGpu(feb);
      assert.equal(got.unknownCategories, want.unknownCategories);
      const log1pCols = new Set<number>();
      let off = 0;
      for (const blk of spec.blocks) {
        if (blk.kind === 'numeric' && blk.transform === 'log1p') log1pCols.add(off);
        off += blockWidth(blk);
      }
      for (let i = 0; i < want.data.length; i++) {
        const tol = log1pCols.has(i % spec.width) ? LOG1P_ULPS : 0;
        if (ulpDistance(got.data[i], want.data[i]) > tol) assert.fail(`row ${Math.floor(i / spec.width)} column ${i % spec.width}: ${got.data[i]} vs ${want.data[i]}`);
      }
    }
  });
}
