// Scalar fp32 GEMM reference (contract in gemm_types.h): one float
// accumulator per output, k in order, then alpha * acc + bias. Built without
// SIMD flags; the SIMD variants are tested against it.
#include "quant/kernels.h"

namespace infera {
namespace quant {

void GemmF32Ref(int M, int N, int K, float alpha, const float* A, size_t lda,
                const PackedF32& B, const float* bias, float* C, size_t ldc) {
  for (int m = 0; m < M; ++m) {
    const float* a = A + static_cast<size_t>(m) * lda;
    for (int n = 0; n < N; ++n) {
      const float* panel = B.Panel(n / kF32PanelCols);
      const int j = n % kF32PanelCols;
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) acc += a[k] * panel[k * kF32PanelCols + j];
      const float b = bias ? bias[n] : 0.0f;
      C[static_cast<size_t>(m) * ldc + n] = alpha * acc + b;
    }
  }
}

}  // namespace quant
}  // namespace infera
