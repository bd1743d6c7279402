// AVX-VNNI int8 GEMM (contract in gemm_types.h), compiled with per-file
// -mavx2 -mfma -mavxvnni -ffp-contract=off; bit-identical to Int8GemmRef.
//
// vpdpbusd multiplies u8 by s8 and adds 4 products into an s32 lane without
// intermediate saturation. Activations are s8, so they are offset to u8
// (a + 128, an xor with 0x80) and the offset is removed exactly afterwards:
//   sum_k (a_k + 128) * b_k  -  128 * sum_k b_k  =  sum_k a_k * b_k
// with sum_k b_k the packed column sums (PackI8). Row quantization is shared
// with the AVX2 variant (QuantizeRowsAvx2); each 6-row tile is offset to u8
// into a thread-local buffer before its panels are computed.
//
// Tile: kMr = 6 rows x 16 columns = 12 ymm accumulators.
#include "quant/kernels.h"

#ifdef INFERA_X86_KERNELS
#include <immintrin.h>

#include <cstring>
#include <vector>

namespace infera {
namespace quant {
namespace {

constexpr int kMr = 6;

inline int32_t LoadGroup(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Epilogue of one row: remove the u8 offset, then the reference's
// acc * (row_scale * col_scale) + bias (no FMA), full or partial store.
INFERA_ALWAYS_INLINE void Store(__m256i acc0, __m256i acc1, __m256i corr0, __m256i corr1,
                  float row_scale, __m256 s0, __m256 s1, __m256 c0, __m256 c1,
                  float* out, int ncols) {
  const __m256 rs = _mm256_set1_ps(row_scale);
  const __m256i i0 = _mm256_sub_epi32(acc0, corr0);
  const __m256i i1 = _mm256_sub_epi32(acc1, corr1);
  const __m256 y0 =
      _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(i0), _mm256_mul_ps(rs, s0)), c0);
  const __m256 y1 =
      _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(i1), _mm256_mul_ps(rs, s1)), c1);
  if (ncols == kI8PanelCols) {
    _mm256_storeu_ps(out, y0);
    _mm256_storeu_ps(out + 8, y1);
  } else {
    alignas(32) float tmp[kI8PanelCols];
    _mm256_store_ps(tmp, y0);
    _mm256_store_ps(tmp + 8, y1);
    std::memcpy(out, tmp, sizeof(float) * ncols);
  }
}

// Named accumulators (see int8_gemm_avx2.cc) so all 12 stay in registers.
#define INFERA_ROW(r)                                                        \
  if constexpr (MR > r) {                                                    \
    const __m256i a = _mm256_set1_epi32(LoadGroup(ua + r * Kp + g * kI8KGroup)); \
    c##r##0 = _mm256_dpbusd_avx_epi32(c##r##0, a, b0);                      \
    c##r##1 = _mm256_dpbusd_avx_epi32(c##r##1, a, b1);                      \
  }
#define INFERA_STORE(r)                                                      \
  if constexpr (MR > r) Store(c##r##0, c##r##1, corr0, corr1, row_scales[r], \
                              s0, s1, c0, c1, C + r * ldc, ncols);

// ua: the tile's rows already offset to u8 (a + 128), see Int8GemmAvxVnni.
template <int MR>
void Tile(int Kp, const int8_t* ua, const float* row_scales,
          const int8_t* panel, const int32_t* colsum16,
          const float* col_scales16, const float* bias16, float* C, size_t ldc,
          int ncols) {
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00,
          c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00,
          c50 = c00, c51 = c00;
  const int groups = Kp / kI8KGroup;
  for (int g = 0; g < groups; ++g) {
    const int8_t* bp = panel + g * kI8PanelCols * kI8KGroup;
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + 32));
    INFERA_ROW(0) INFERA_ROW(1) INFERA_ROW(2)
    INFERA_ROW(3) INFERA_ROW(4) INFERA_ROW(5)
  }
  // 128 * colsum: the u8 offset's contribution to every accumulator.
  const __m256i corr0 = _mm256_slli_epi32(
      _mm256_load_si256(reinterpret_cast<const __m256i*>(colsum16)), 7);
  const __m256i corr1 = _mm256_slli_epi32(
      _mm256_load_si256(reinterpret_cast<const __m256i*>(colsum16 + 8)), 7);
  const __m256 s0 = _mm256_load_ps(col_scales16);
  const __m256 s1 = _mm256_load_ps(col_scales16 + 8);
  const __m256 c0 = _mm256_load_ps(bias16);
  const __m256 c1 = _mm256_load_ps(bias16 + 8);
  INFERA_STORE(0) INFERA_STORE(1) INFERA_STORE(2)
  INFERA_STORE(3) INFERA_STORE(4) INFERA_STORE(5)
}
#undef INFERA_ROW
#undef INFERA_STORE

using TileFn = void (*)(int, const int8_t*, const float*, const int8_t*,
                        const int32_t*, const float*, const float*, float*,
                        size_t, int);
constexpr TileFn kTiles[kMr + 1] = {nullptr, Tile<1>, Tile<2>, Tile<3>,
                                    Tile<4>, Tile<5>, Tile<6>};

}  // namespace

void Int8GemmAvxVnni(int M, int N, const int8_t* qa, int Kp,
                     const float* row_scales, const PackedI8& B,
                     const float* bias, float* C, size_t ldc) {
  const int panels = (N + kI8PanelCols - 1) / kI8PanelCols;
  alignas(32) float bias16[kI8PanelCols];
  // The row tile offset to u8 once, outside the k loop (keeps the offset
  // constant and the xor out of the 16 registers the tile needs).
  thread_local std::vector<int8_t> ua;
  ua.resize(static_cast<size_t>(kMr) * Kp);
  const __m256i offset = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int m0 = 0; m0 < M; m0 += kMr) {
    const int mr = M - m0 < kMr ? M - m0 : kMr;
    const int8_t* rows = qa + static_cast<size_t>(m0) * Kp;
    const size_t bytes = static_cast<size_t>(mr) * Kp;  // a multiple of 4
    size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + i));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ua.data() + i),
                          _mm256_xor_si256(v, offset));
    }
    for (; i < bytes; ++i) ua[i] = static_cast<int8_t>(rows[i] ^ 0x80);
    for (int p = 0; p < panels; ++p) {
      const int n0 = p * kI8PanelCols;
      const int ncols = N - n0 < kI8PanelCols ? N - n0 : kI8PanelCols;
      for (int j = 0; j < kI8PanelCols; ++j) {
        bias16[j] = (bias && j < ncols) ? bias[n0 + j] : 0.0f;
      }
      kTiles[mr](Kp, ua.data(), row_scales + m0, B.Panel(p), B.colsum.get() + n0, B.scales.get() + n0, bias16,
                 C + m0 * ldc + n0, ldc, ncols);
    }
  }
}

}  // namespace quant
}  // namespace infera
#endif  // INFERA_X86_KERNELS
