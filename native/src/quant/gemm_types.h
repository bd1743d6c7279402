// Shared contracts of the GEMM kernels (fp32 and int8) and their packed
// weight layouts. Pure C++ (no N-API): kernels run inside AsyncWorkers.
//
// Every kernel computes, for a row-major activation block A [M x K]:
//   fp32:  C[m][n] = alpha * sum_k A[m][k] * B[k][n] + bias[n]
//   int8:  C[m][n] = float(acc[m][n]) * (row_scale[m] * col_scale[n]) + bias[n]
//          acc[m][n] = sum_k qa[m][k] * qb[k][n]   (exact int32)
// with bias optional (null = 0). B is constant (a weight) and packed once by
// the functions in gemm_pack.h; every variant of a kernel family reads the same
// packed layout, so a test can run the reference and the SIMD variant on one
// packed copy. Layout constants are fixed here, not per variant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace infera {
namespace quant {

// fp32: B is packed in panels of kF32PanelCols columns; panel p holds
// B[k][p*16 .. p*16+15] for k = 0..K-1 contiguously (16 floats per k), the
// columns past N zero-filled.
constexpr int kF32PanelCols = 16;

// int8: K is padded to a multiple of kI8KGroup (zeros). Panels of
// kI8PanelCols columns; within a panel, for each group g of 4 consecutive k:
// 64 bytes = columns 0..15, each as its 4 k bytes (k = 4g..4g+3) in order.
// That is one 32-bit lane per column, the layout maddubs/vpdpbusd consume.
constexpr int kI8KGroup = 4;
constexpr int kI8PanelCols = 16;

// Symmetric int8 range: -128 is never produced, so |q| <= 127 always holds
// (the AVX2 sign trick and the u8 offset of VNNI rely on it).
constexpr int kI8Max = 127;

// Largest K an int8 GEMM accepts: 127 * 127 * K stays below 2^31, so the
// int32 accumulators (and the reference's) can never overflow.
constexpr int kI8MaxK = 131072;

// Non-zero terms whose int8 products (|q_a q_w| <= 127 * 127) a float
// accumulator sums exactly: 1040 * 16129 <= 2^24.
constexpr int kExactFloatTerms = 1040;

// 64-byte aligned float/byte storage (malloc'd; freed by the deleter).
struct AlignedFree {
  void operator()(void* p) const;
};
void* AlignedAlloc(size_t bytes);  // nullptr on failure; bytes may be 0

template <typename T>
using AlignedArray = std::unique_ptr<T[], AlignedFree>;

template <typename T>
AlignedArray<T> MakeAligned(size_t count) {
  return AlignedArray<T>(static_cast<T*>(AlignedAlloc(count * sizeof(T))));
}

inline size_t RoundUp(size_t x, size_t m) { return (x + m - 1) / m * m; }

// A packed fp32 weight [K x N].
struct PackedF32 {
  int K = 0;
  int N = 0;
  AlignedArray<float> data;  // RoundUp(N, 16) / 16 panels of K * 16 floats

  const float* Panel(int p) const {
    return data.get() + static_cast<size_t>(p) * K * kF32PanelCols;
  }
};

// A packed per-output-channel symmetric int8 weight [K x N].
struct PackedI8 {
  int K = 0;       // logical K
  int Kp = 0;      // K rounded up to kI8KGroup
  int N = 0;
  AlignedArray<int8_t> data;     // panels of Kp * 16 bytes
  AlignedArray<float> scales;    // RoundUp(N, 16): W ~= q * scale (0 past N)
  AlignedArray<int32_t> colsum;  // RoundUp(N, 16): sum_k q[k][n] (for u8 offsets)
  // Optional: q as floats in the fp32 panel layout (PackedF32::data), for the
  // sparse kernels: a row with at most kExactFloatTerms non-zeros sums its
  // int8 products exactly in float (every partial sum is an integer below
  // 2^24), i.e. the same value as the int32 sum, with FMAs.
  AlignedArray<float> qf;

  const int8_t* Panel(int p) const {
    return data.get() + static_cast<size_t>(p) * Kp * kI8PanelCols;
  }
};

// Activations quantized per row (dynamic, symmetric):
//   amax = max_k |A[m][k]|; scale[m] = amax / 127;
//   q[m][k] = clamp(nearbyint(A[m][k] * (127 / amax)), -127, 127)
// (rows of zeros: scale 0, q 0). Rows are Kp bytes, zero padded.
struct QuantRows {
  int M = 0;
  int Kp = 0;
  AlignedArray<int8_t> q;       // M * Kp
  AlignedArray<float> scales;   // M
};

// Rows of an activation block in compressed sparse row form, for inputs that
// are mostly zeros (one-hot tabular features): the sparse kernels sum only
// the non-zero terms, in increasing k, which gives the dense kernels' results
// bit for bit (a zero term adds exactly nothing, also to an fp32 FMA chain;
// int8 products of zero are zero). amax/finite let the int8 kernel quantize
// the non-zeros exactly as QuantizeRows* would.
struct SparseRows {
  int M = 0;
  std::vector<int32_t> offsets;  // M + 1
  std::vector<int32_t> indices;  // nnz, increasing within a row
  std::vector<float> values;     // nnz
  std::vector<float> amax;       // M: max_k |A[m][k]|
  std::vector<uint8_t> finite;   // M: 0 when the row holds NaN or +-Inf
};

// Kernel signatures (one per family; variants share them).
// C has row stride ldc (floats); A has row stride lda.
using GemmF32Fn = void (*)(int M, int N, int K, float alpha, const float* A,
                           size_t lda, const PackedF32& B, const float* bias,
                           float* C, size_t ldc);
using QuantizeRowsFn = void (*)(int M, int K, const float* A, size_t lda,
                                int8_t* q, int Kp, float* scales);
using Int8GemmFn = void (*)(int M, int N, const int8_t* qa, int Kp,
                            const float* row_scales, const PackedI8& B,
                            const float* bias, float* C, size_t ldc);
// Fills `out` from A [M x K]; stops early and returns a count above max_nnz
// as soon as the block has more non-zeros than that (dense: not worth it).
using ScanRowsFn = size_t (*)(int M, int K, const float* A, size_t lda,
                              size_t max_nnz, SparseRows* out);
// Sparse twins of GemmF32Fn / Int8GemmFn (same contracts, same results).
using SpmmF32Fn = void (*)(int N, const SparseRows& A, float alpha,
                           const PackedF32& B, const float* bias, float* C,
                           size_t ldc);
using SpmmI8Fn = void (*)(int N, const SparseRows& A, const PackedI8& B,
                          const float* bias, float* C, size_t ldc);

}  // namespace quant
}  // namespace infera
