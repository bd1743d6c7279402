/**
 * GPU versions of the int8 GEMM and of the feature transform (native/src/cuda/), usable when
 * cudaInfo().available (a cmake-js build with nvcc on a machine with an NVIDIA driver and
 * device). Results: the int8 GEMM equals the CPU int8 kernels bit for bit; the feature
 * tensor equals the CPU/TypeScript transform except numeric log1p columns (CUDA's log1p,
 * within 1 float32 ulp). The addon is loaded by binding.ts.
 */
import { loadBinding } from './binding';
import type { QuantizedWeights } from './kernels';
import type { FeaturePlanHandle, NativeColumn } from './features';

/** Raw addon exports of the GPU paths. */
export interface CudaBinding {
  cudaInt8Gemm(A: Float32Array, M: number, K: number, W: QuantizedWeights, N: number, opts?: { alpha?: number; bias?: Float32Array }): Promise<Float32Array>;
  cudaTransformFeatures(handle: FeaturePlanHandle, columns: NativeColumn[], rows: number): Promise<{ data: Float32Array; unknown: number; fallbackRows: Int32Array; invalid: boolean }>;
}

/**
 * [async] int8 GEMM on the GPU: per-row activation quantization and __dp4a GEMM on the device,
 * device memory from cudaMalloc, transfers through pinned buffers on one stream.
 * @returns a Promise of C [M x N], equal to int8Gemm('ref', A, M, K, W, N, opts).
 * @throws Error (as a rejection) "CUDA is not available: <reason>" without a usable device;
 *   TypeError/RangeError for bad arguments (as int8Gemm); Error with the CUDA error text.
 */
export function cudaInt8Gemm(A: Float32Array, M: number, K: number, W: QuantizedWeights, N: number, opts?: { alpha?: number; bias?: Float32Array }): Promise<Float32Array> {
  try {
    return loadBinding().cudaInt8Gemm(A, M, K, W, N, opts);
  } catch (e) {
    return Promise.reject(e);
  }
}
