// Scalar references of the sparse-input kernels (contracts in gemm_types.h):
// the dense references' arithmetic with the zero terms left out, which
// changes no bit (see SparseRows).
#include <cmath>

#include "quant/kernels.h"

namespace infera {
namespace quant {

size_t ScanRowsRef(int M, int K, const float* A, size_t lda, size_t max_nnz,
                   SparseRows* out) {
  out->M = M;
  out->offsets.assign(M + 1, 0);
  out->indices.clear();
  out->values.clear();
  out->amax.assign(M, 0.0f);
  out->finite.assign(M, 1);
  for (int m = 0; m < M; ++m) {
    const float* a = A + static_cast<size_t>(m) * lda;
    float amax = 0.0f, probe = 0.0f;
    for (int k = 0; k < K; ++k) {
      if (a[k] != 0.0f) {  // NaN counts as a non-zero
        out->indices.push_back(k);
        out->values.push_back(a[k]);
      }
      amax = std::fmax(amax, std::fabs(a[k]));
      probe += a[k] * 0.0f;
    }
    if (out->indices.size() > max_nnz) return out->indices.size();
    out->amax[m] = amax;
    out->finite[m] = probe == probe;
    out->offsets[m + 1] = static_cast<int32_t>(out->indices.size());
  }
  return out->indices.size();
}

void SpmmF32Ref(int N, const SparseRows& A, float alpha, const PackedF32& B,
                const float* bias, float* C, size_t ldc) {
  for (int m = 0; m < A.M; ++m) {
    for (int n = 0; n < N; ++n) {
      const float* panel = B.Panel(n / kF32PanelCols);
      const int j = n % kF32PanelCols;
      float acc = 0.0f;
      for (int32_t e = A.offsets[m]; e < A.offsets[m + 1]; ++e) {
        acc += A.values[e] * panel[A.indices[e] * kF32PanelCols + j];
      }
      const float b = bias ? bias[n] : 0.0f;
      C[static_cast<size_t>(m) * ldc + n] = alpha * acc + b;
    }
  }
}

void SpmmI8Ref(int N, const SparseRows& A, const PackedI8& B,
               const float* bias, float* C, size_t ldc) {
  for (int m = 0; m < A.M; ++m) {
    // Row quantization exactly as QuantizeRowsRef.
    float scale = 0.0f, inv = 0.0f;
    if (!A.finite[m]) {
      scale = NAN;
    } else if (A.amax[m] != 0.0f) {
      scale = A.amax[m] / kI8Max;
      inv = kI8Max / A.amax[m];
    }
    for (int n = 0; n < N; ++n) {
      const int8_t* panel = B.Panel(n / kI8PanelCols);
      const int j = n % kI8PanelCols;
      int32_t acc = 0;
      if (A.finite[m]) {
        for (int32_t e = A.offsets[m]; e < A.offsets[m + 1]; ++e) {
          float r = std::nearbyint(A.values[e] * inv);
          r = std::fmin(std::fmax(r, -static_cast<float>(kI8Max)), kI8Max);
          const int k = A.indices[e];
          acc += static_cast<int32_t>(r) *
                 panel[((k / kI8KGroup) * kI8PanelCols + j) * kI8KGroup + k % kI8KGroup];
        }
      }
      const float combined = scale * B.scales[n];
      const float b = bias ? bias[n] : 0.0f;
      C[static_cast<size_t>(m) * ldc + n] = static_cast<float>(acc) * combined + b;
    }
  }
}

}  // namespace quant
}  // namespace infera
