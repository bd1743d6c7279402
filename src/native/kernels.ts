/**
 * Typed wrappers of the GEMM kernels in the native addon (native/src/quant/): fp32 GEMM and
 * int8 GEMM with per-output-channel symmetric weights and dynamic per-row activation scales.
 * Synchronous: these serve tests, measurement and `infera quantize`; serving runs whole
 * models through src/native/executor.ts off the JS thread. The addon is loaded by binding.ts.
 */
import { loadBinding } from './binding';

/** Kernel families and their variants on this machine. */
export interface KernelInfo {
  gemmF32: { selected: string; usable: string[] };
  int8Gemm: { selected: string; usable: string[] };
  /** Every row of the dispatch tables: state 'selected' | 'usable' | 'unsupported' | 'reserved'. */
  variants: { family: 'gemmF32' | 'int8Gemm'; name: string; state: string }[];
}

export interface GemmOptions {
  /** Scales the product (ONNX Gemm alpha); default 1. */
  alpha?: number;
  /** Added to every row; length N. */
  bias?: Float32Array;
  /** B is given as [N x K] (ONNX Gemm transB = 1); gemmF32 and quantizeWeights only. */
  transB?: boolean;
  /** 'sparse': A is scanned into CSR and the sparse kernel runs (same results); default 'dense'. */
  path?: 'dense' | 'sparse';
  /** Runs the kernel this many times on the once-packed weights (timing); default 1. */
  repeat?: number;
}

/** Per-output-channel symmetric int8 weights: W[k][n] ≈ q[k*N + n] * scales[n], q in [-127, 127]. */
export interface QuantizedWeights {
  q: Int8Array;
  scales: Float32Array;
}

/** Raw addon exports of the kernel family (argument checks happen in C++). */
export interface KernelBinding {
  kernelInfo(): KernelInfo;
  gemmF32(variant: string, A: Float32Array, M: number, K: number, B: Float32Array, N: number, opts?: GemmOptions): Float32Array;
  int8Gemm(variant: string, A: Float32Array, M: number, K: number, W: Float32Array | QuantizedWeights, N: number, opts?: GemmOptions): Float32Array;
  quantizeWeights(B: Float32Array, K: number, N: number, opts?: { transB?: boolean }): QuantizedWeights;
  quantizeRows(variant: string, A: Float32Array, M: number, K: number): QuantizedWeights;
}

/**
 * The dispatch tables as chosen at start-up from the CPU's features (sync).
 * @returns the selected and usable variants of each family and every table row's state.
 * @throws Error when no addon is usable.
 */
export function kernelInfo(): KernelInfo {
  return loadBinding().kernelInfo();
}

/**
 * fp32 GEMM: C = alpha · A · B + bias, A [M x K] and B [K x N] row-major (B [N x K] with
 * transB), with the named kernel variant ('ref', 'avx2', … or 'auto'). B is packed per call.
 * @returns a new Float32Array [M x N].
 * @throws TypeError when an array has the wrong type or length (the message names it);
 *   RangeError for an unknown or unusable variant or a dimension above 2^24.
 */
export function gemmF32(variant: string, A: Float32Array, M: number, K: number, B: Float32Array, N: number, opts?: GemmOptions): Float32Array {
  return loadBinding().gemmF32(variant, A, M, K, B, N, opts);
}

/**
 * int8 GEMM: W is quantized per output column (or given quantized), each row of A is
 * quantized symmetrically with its own scale (amax / 127), the int8 products accumulate
 * exactly in int32 and C = acc · (rowScale · colScale · alpha) + bias.
 * @returns a new Float32Array [M x N]; rows of A holding NaN/±Inf give NaN rows.
 * @throws TypeError for wrong array types/lengths; RangeError for an unknown variant, K above
 *   131072 or an int8 weight of -128; Error for a non-finite fp32 weight.
 */
export function int8Gemm(variant: string, A: Float32Array, M: number, K: number, W: Float32Array | QuantizedWeights, N: number, opts?: Omit<GemmOptions, 'transB'>): Float32Array {
  return loadBinding().int8Gemm(variant, A, M, K, W, N, opts);
}

/**
 * Per-output-channel symmetric quantization: scales[n] = max_k |W[k][n]| / 127 (1 for an
 * all-zero column), q = clamp(round-half-even(W / scale), ±127). The one implementation
 * used by the executor and by `infera quantize`.
 * @returns q [K x N] row-major (always [K x N], also with transB) and scales [N].
 * @throws TypeError for a wrong array; Error when a weight is not finite.
 */
export function quantizeWeights(B: Float32Array, K: number, N: number, opts?: { transB?: boolean }): QuantizedWeights {
  return loadBinding().quantizeWeights(B, K, N, opts);
}

/**
 * Dynamic per-row symmetric activation quantization with the named variant.
 * @returns q [M x K] and scales [M] (0 for an all-zero row, NaN for a row with NaN/±Inf).
 * @throws TypeError / RangeError as {@link int8Gemm}.
 */
export function quantizeRows(variant: string, A: Float32Array, M: number, K: number): QuantizedWeights {
  return loadBinding().quantizeRows(variant, A, M, K);
}
