// Informative, on the device: one int8 GEMM on the GPU (dp4a, cmake build; host<->device copies
// included) against each usable CPU int8 kernel, on fixed deterministic operands, and whether
// every output is equal. Run from the repository root after `npm run build:cmake`.
const path = require('node:path');

const b = require(path.resolve('build-cmake/Release/infera.node'));
console.log('cudaInfo', JSON.stringify(b.cudaInfo()), 'cpu', JSON.stringify(b.cpuFeatures()), 'threads', b.computeThreads());
(async () => {
  const [M, K, N] = [2048, 1024, 1024];
  const A = new Float32Array(M * K);
  for (let i = 0; i < A.length; i++) A[i] = Math.sin(i * 0.37);
  const Wf = new Float32Array(K * N);
  for (let i = 0; i < Wf.length; i++) Wf[i] = Math.cos(i * 0.11);
  const W = b.quantizeWeights(Wf, K, N);
  console.log('kernels', JSON.stringify(b.kernelInfo().int8Gemm));
  const time = async (name, f, reps) => {
    await f();
    const t = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) await f();
    const ms = Number(process.hrtime.bigint() - t) / 1e6 / reps;
    console.log(`${name}: ${ms.toFixed(3)} ms, ${((2 * M * K * N) / ms / 1e6).toFixed(1)} GOP/s`);
  };
  let gpu;
  let cpu;
  try {
    gpu = await b.cudaInt8Gemm(A, M, K, W, N);
    await time('gpu int8 (incl. copies)', () => b.cudaInt8Gemm(A, M, K, W, N), 20);
  } catch (e) {
    console.log('gpu failed', e.message);
  }
  for (const v of ['ref', ...b.kernelInfo().int8Gemm.usable.filter((x) => x !== 'ref')]) {
    cpu = b.int8Gemm(v, A, M, K, W, N);
    await time(`cpu int8 ${v}`, async () => b.int8Gemm(v, A, M, K, W, N), v === 'ref' ? 1 : 5);
  }
  if (gpu && cpu) {
    let same = 0;
    for (let i = 0; i < gpu.length; i++) same += gpu[i] === cpu[i];
    console.log(`gpu == cpu elements: ${same}/${gpu.length}`);
  }
})().catch((e) => console.log('timing failed', e.stack));
