// Scalar int8 references (contracts in gemm_types.h): dynamic per-row
// symmetric activation quantization and the s8 x s8 -> s32 GEMM with the
// dequantizing epilogue. The SIMD variants must match these bit for bit:
// integer accumulation is exact and the epilogue uses the same float
// operations in the same order (mul, mul, add; no FMA).
#include <cmath>
#include <cstring>

#include "quant/kernels.h"

namespace infera {
namespace quant {

void QuantizeRowsRef(int M, int K, const float* A, size_t lda, int8_t* q,
                     int Kp, float* scales) {
  for (int m = 0; m < M; ++m) {
    const float* a = A + static_cast<size_t>(m) * lda;
    int8_t* out = q + static_cast<size_t>(m) * Kp;
    std::memset(out, 0, Kp);
    float amax = 0.0f;
    float probe = 0.0f;  // x * 0 is NaN exactly when x is NaN or infinite
    for (int k = 0; k < K; ++k) {
      amax = std::fmax(amax, std::fabs(a[k]));
      probe += a[k] * 0.0f;
    }
    if (probe != probe) {  // non-finite input: the row's outputs become NaN
      scales[m] = NAN;
      continue;
    }
    if (amax == 0.0f) {
      scales[m] = 0.0f;
      continue;
    }
    scales[m] = amax / kI8Max;
    const float inv = kI8Max / amax;
    for (int k = 0; k < K; ++k) {
      float r = std::nearbyint(a[k] * inv);
      r = std::fmin(std::fmax(r, -static_cast<float>(kI8Max)), kI8Max);
      out[k] = static_cast<int8_t>(r);
    }
  }
}

void Int8GemmRef(int M, int N, const int8_t* qa, int Kp,
                 const float* row_scales, const PackedI8& B, const float* bias,
                 float* C, size_t ldc) {
  for (int m = 0; m < M; ++m) {
    const int8_t* a = qa + static_cast<size_t>(m) * Kp;
    for (int n = 0; n < N; ++n) {
      const int8_t* panel = B.Panel(n / kI8PanelCols);
      const int j = n % kI8PanelCols;
      int32_t acc = 0;
      for (int k = 0; k < Kp; ++k) {
        const int g = k / kI8KGroup;
        const int t = k % kI8KGroup;
        acc += static_cast<int32_t>(a[k]) *
               panel[(g * kI8PanelCols + j) * kI8KGroup + t];
      }
      const float combined = row_scales[m] * B.scales[n];
      const float b = bias ? bias[n] : 0.0f;
      C[static_cast<size_t>(m) * ldc + n] =
          static_cast<float>(acc) * combined + b;
    }
  }
}

}  // namespace quant
}  // namespace infera
