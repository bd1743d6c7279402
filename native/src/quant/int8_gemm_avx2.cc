// AVX2 int8 kernels (contracts in gemm_types.h), compiled with per-file
// -mavx2 -mfma -ffp-contract=off; bit-identical to int8_gemm_ref.cc.
//
// s8 x s8 without saturation: vpmaddubsw multiplies u8 by s8 and adds pairs
// into s16 with saturation. Feeding it |a| (u8, <= 127) and sign(b, a)
// (s8, |.| <= 127 because -128 is never produced) gives a*b exactly and a
// pair sum of at most 2 * 127 * 127 = 32258 < 32767: no saturation, ever.
// vpmaddwd with ones then widens the pairs to s32.
//
// Tile: kMr = 4 rows x 16 columns = 8 ymm int32 accumulators; one step
// consumes a 4-byte k group (one 32-bit lane per column in the packed B).
#include "quant/kernels.h"

#ifdef INFERA_X86_KERNELS
#include <immintrin.h>

#include <cmath>
#include <cstring>

namespace infera {
namespace quant {
namespace {

constexpr int kMr = 4;

inline int32_t LoadGroup(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Epilogue of one row: acc * (row_scale * col_scale) + bias, in the
// reference's order (no FMA), then a full or partial store.
INFERA_ALWAYS_INLINE void Store(__m256i acc0, __m256i acc1, float row_scale, __m256 s0,
                  __m256 s1, __m256 c0, __m256 c1, float* out, int ncols) {
  const __m256 rs = _mm256_set1_ps(row_scale);
  const __m256 y0 =
      _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc0), _mm256_mul_ps(rs, s0)), c0);
  const __m256 y1 =
      _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc1), _mm256_mul_ps(rs, s1)), c1);
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

// Accumulators are named locals so they stay in registers (an array of
// __m256i is spilled to the stack on every step by GCC).
#define INFERA_ROW(r)                                                        \
  if constexpr (MR > r) {                                                    \
    const __m256i a = _mm256_set1_epi32(LoadGroup(qa + r * Kp + g * kI8KGroup)); \
    const __m256i abs_a = _mm256_abs_epi8(a);                                \
    const __m256i p0 = _mm256_maddubs_epi16(abs_a, _mm256_sign_epi8(b0, a)); \
    const __m256i p1 = _mm256_maddubs_epi16(abs_a, _mm256_sign_epi8(b1, a)); \
    c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(p0, ones));        \
    c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(p1, ones));        \
  }
#define INFERA_STORE(r)                                                      \
  if constexpr (MR > r) Store(c##r##0, c##r##1, row_scales[r], s0, s1, c0,  \
                              c1, C + r * ldc, ncols);

template <int MR>
void Tile(int Kp, const int8_t* qa, const float* row_scales,
          const int8_t* panel, const float* col_scales16,
          const float* bias16, float* C, size_t ldc, int ncols) {
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00,
          c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const __m256i ones = _mm256_set1_epi16(1);
  const int groups = Kp / kI8KGroup;
  for (int g = 0; g < groups; ++g) {
    const int8_t* bp = panel + g * kI8PanelCols * kI8KGroup;
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + 32));
    INFERA_ROW(0) INFERA_ROW(1) INFERA_ROW(2) INFERA_ROW(3)
  }
  const __m256 s0 = _mm256_load_ps(col_scales16);
  const __m256 s1 = _mm256_load_ps(col_scales16 + 8);
  const __m256 c0 = _mm256_load_ps(bias16);
  const __m256 c1 = _mm256_load_ps(bias16 + 8);
  INFERA_STORE(0) INFERA_STORE(1) INFERA_STORE(2) INFERA_STORE(3)
}
#undef INFERA_ROW
#undef INFERA_STORE

using TileFn = void (*)(int, const int8_t*, const float*, const int8_t*,
                        const float*, const float*, float*, size_t, int);
constexpr TileFn kTiles[kMr + 1] = {nullptr, Tile<1>, Tile<2>, Tile<3>, Tile<4>};

}  // namespace

void QuantizeRowsAvx2(int M, int K, const float* A, size_t lda, int8_t* q,
                      int Kp, float* scales) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 zero = _mm256_setzero_ps();
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int m = 0; m < M; ++m) {
    const float* a = A + static_cast<size_t>(m) * lda;
    int8_t* out = q + static_cast<size_t>(m) * Kp;
    std::memset(out, 0, Kp);
    __m256 vmax = _mm256_setzero_ps();
    __m256 vprobe = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
      const __m256 x = _mm256_loadu_ps(a + k);
      vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign_mask, x));
      vprobe = _mm256_add_ps(vprobe, _mm256_mul_ps(x, zero));
    }
    alignas(32) float lanes[8], probes[8];
    _mm256_store_ps(lanes, vmax);
    _mm256_store_ps(probes, vprobe);
    float amax = 0.0f, probe = 0.0f;
    for (int i = 0; i < 8; ++i) {
      amax = std::fmax(amax, lanes[i]);
      probe += probes[i];
    }
    for (; k < K; ++k) {
      amax = std::fmax(amax, std::fabs(a[k]));
      probe += a[k] * 0.0f;
    }
    if (probe != probe) {
      scales[m] = NAN;
      continue;
    }
    if (amax == 0.0f) {
      scales[m] = 0.0f;
      continue;
    }
    scales[m] = amax / kI8Max;
    const float inv = kI8Max / amax;
    const __m256 vinv = _mm256_set1_ps(inv);
    k = 0;
    for (; k + 32 <= K; k += 32) {
      // cvtps rounds to nearest even (default MXCSR) like nearbyint; the
      // products are <= 127 in magnitude, so the packs never saturate.
      const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + k), vinv));
      const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + k + 8), vinv));
      const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + k + 16), vinv));
      const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + k + 24), vinv));
      const __m256i w01 = _mm256_packs_epi32(i0, i1);
      const __m256i w23 = _mm256_packs_epi32(i2, i3);
      const __m256i b = _mm256_packs_epi16(w01, w23);
      // packs work per 128-bit lane: restore element order.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k),
                          _mm256_permutevar8x32_epi32(b, order));
    }
    for (; k < K; ++k) {
      float r = std::nearbyint(a[k] * inv);
      r = std::fmin(std::fmax(r, -static_cast<float>(kI8Max)), kI8Max);
      out[k] = static_cast<int8_t>(r);
    }
  }
}

void Int8GemmAvx2(int M, int N, const int8_t* qa, int Kp,
                  const float* row_scales, const PackedI8& B, const float* bias,
                  float* C, size_t ldc) {
  const int panels = (N + kI8PanelCols - 1) / kI8PanelCols;
  alignas(32) float bias16[kI8PanelCols];
  for (int m0 = 0; m0 < M; m0 += kMr) {
    const int mr = M - m0 < kMr ? M - m0 : kMr;
    for (int p = 0; p < panels; ++p) {
      const int n0 = p * kI8PanelCols;
      const int ncols = N - n0 < kI8PanelCols ? N - n0 : kI8PanelCols;
      for (int j = 0; j < kI8PanelCols; ++j) {
        bias16[j] = (bias && j < ncols) ? bias[n0 + j] : 0.0f;
      }
      kTiles[mr](Kp, qa + static_cast<size_t>(m0) * Kp, row_scales + m0,
                 B.Panel(p), B.scales.get() + n0, bias16,
                 C + m0 * ldc + n0, ldc, ncols);
    }
  }
}

}  // namespace quant
}  // namespace infera
#endif  // INFERA_X86_KERNELS
