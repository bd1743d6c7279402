// AVX2 + FMA fp32 GEMM (contract in gemm_types.h). Compiled with per-file
// -mavx2 -mfma; only called when dispatch found both features.
//
// Register tile: kMr = 6 rows x 16 columns (one packed panel) = 12 ymm
// accumulators + 2 for B + 1 broadcast. Loop order: row tiles outer, panels
// inner, so a 6 x K slice of A stays in L1 while the panels stream from L2.
// No K blocking: MLP layers have K in the hundreds to low thousands.
// Edges: M remainders use the kMr < 6 instantiations; N remainders compute
// the full (zero padded) panel into a stack tile and copy the valid columns.
#include "quant/kernels.h"

#ifdef INFERA_X86_KERNELS
#include <immintrin.h>

#include <cstring>

namespace infera {
namespace quant {
namespace {

constexpr int kMr = 6;

// Accumulators are named locals (not an array) so GCC keeps all 12 in
// registers without spilling them to the stack on every k.
#define INFERA_ROW(r)                                                 \
  if constexpr (MR > r) {                                             \
    const __m256 a = _mm256_broadcast_ss(A + r * lda + k);            \
    c##r##0 = _mm256_fmadd_ps(a, b0, c##r##0);                        \
    c##r##1 = _mm256_fmadd_ps(a, b1, c##r##1);                        \
  }
#define INFERA_STORE(r)                                               \
  if constexpr (MR > r) Store(c##r##0, c##r##1, va, bias0, bias1,     \
                              C + r * ldc, ncols);

INFERA_ALWAYS_INLINE void Store(__m256 acc0, __m256 acc1, __m256 va, __m256 bias0,
                  __m256 bias1, float* out, int ncols) {
  const __m256 y0 = _mm256_fmadd_ps(acc0, va, bias0);
  const __m256 y1 = _mm256_fmadd_ps(acc1, va, bias1);
  if (ncols == kF32PanelCols) {
    _mm256_storeu_ps(out, y0);
    _mm256_storeu_ps(out + 8, y1);
  } else {
    alignas(32) float tmp[kF32PanelCols];
    _mm256_store_ps(tmp, y0);
    _mm256_store_ps(tmp + 8, y1);
    std::memcpy(out, tmp, sizeof(float) * ncols);
  }
}

template <int MR>
void Tile(int K, const float* A, size_t lda, const float* panel, float alpha,
          const float* bias16, float* C, size_t ldc, int ncols) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00,
         c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
         c50 = c00, c51 = c00;
  for (int k = 0; k < K; ++k) {
    const __m256 b0 = _mm256_load_ps(panel + k * kF32PanelCols);
    const __m256 b1 = _mm256_load_ps(panel + k * kF32PanelCols + 8);
    INFERA_ROW(0) INFERA_ROW(1) INFERA_ROW(2)
    INFERA_ROW(3) INFERA_ROW(4) INFERA_ROW(5)
  }
  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 bias0 = _mm256_loadu_ps(bias16);
  const __m256 bias1 = _mm256_loadu_ps(bias16 + 8);
  INFERA_STORE(0) INFERA_STORE(1) INFERA_STORE(2)
  INFERA_STORE(3) INFERA_STORE(4) INFERA_STORE(5)
}
#undef INFERA_ROW
#undef INFERA_STORE

using TileFn = void (*)(int, const float*, size_t, const float*, float,
                        const float*, float*, size_t, int);
constexpr TileFn kTiles[kMr + 1] = {nullptr,  Tile<1>, Tile<2>, Tile<3>,
                                    Tile<4>, Tile<5>, Tile<6>};

}  // namespace

void GemmF32Avx2(int M, int N, int K, float alpha, const float* A, size_t lda,
                 const PackedF32& B, const float* bias, float* C, size_t ldc) {
  const int panels = (N + kF32PanelCols - 1) / kF32PanelCols;
  alignas(32) float bias16[kF32PanelCols];
  for (int m0 = 0; m0 < M; m0 += kMr) {
    const int mr = M - m0 < kMr ? M - m0 : kMr;
    for (int p = 0; p < panels; ++p) {
      const int n0 = p * kF32PanelCols;
      const int ncols = N - n0 < kF32PanelCols ? N - n0 : kF32PanelCols;
      for (int j = 0; j < kF32PanelCols; ++j) {
        bias16[j] = (bias && j < ncols) ? bias[n0 + j] : 0.0f;
      }
      kTiles[mr](K, A + m0 * lda, lda, B.Panel(p), alpha, bias16,
                 C + m0 * ldc + n0, ldc, ncols);
    }
  }
}

}  // namespace quant
}  // namespace infera
#endif  // INFERA_X86_KERNELS
