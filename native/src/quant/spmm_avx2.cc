// AVX2 sparse-input kernels (contracts in gemm_types.h), compiled with
// -mavx2 -mfma -ffp-contract=off; bit-identical to the dense kernels.
// int8 rows with at most kExactFloatTerms non-zeros use PackedI8::qf and
// float FMAs (exact integer sums, converted back), else the int32 path.
//
// Scan: 8 floats per compare; the movemask bits give the non-zero columns.
// fp32: per row and 16-column panel, one FMA chain per 8 columns over the
// row's non-zeros in increasing k — the dense AVX2 tile's chain minus its
// zero terms, hence the same bits. int8: the 16 weights of column group
// (k / 4) are loaded as 16 int32 lanes; byte k % 4 of each is isolated by
// shifts (sign-extending) and multiplied by the quantized activation.
#include "quant/kernels.h"

#ifdef INFERA_X86_KERNELS
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace infera {
namespace quant {
namespace {

INFERA_ALWAYS_INLINE void StorePanel(__m256 y0, __m256 y1, float* out, int ncols) {
  if (ncols == 16) {
    _mm256_storeu_ps(out, y0);
    _mm256_storeu_ps(out + 8, y1);
  } else {
    alignas(32) float tmp[16];
    _mm256_store_ps(tmp, y0);
    _mm256_store_ps(tmp + 8, y1);
    std::memcpy(out, tmp, sizeof(float) * ncols);
  }
}

void Bias16(const float* bias, int n0, int ncols, float* out16) {
  for (int j = 0; j < 16; ++j) out16[j] = (bias && j < ncols) ? bias[n0 + j] : 0.0f;
}

}  // namespace

size_t ScanRowsAvx2(int M, int K, const float* A, size_t lda, size_t max_nnz,
                    SparseRows* out) {
  out->M = M;
  out->offsets.assign(M + 1, 0);
  out->indices.clear();
  out->values.clear();
  out->amax.assign(M, 0.0f);
  out->finite.assign(M, 1);
  const __m256 zero = _mm256_setzero_ps();
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int m = 0; m < M; ++m) {
    const float* a = A + static_cast<size_t>(m) * lda;
    __m256 vmax = zero, vprobe = zero;
    int k = 0;
    for (; k + 8 <= K; k += 8) {
      const __m256 x = _mm256_loadu_ps(a + k);
      unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(x, zero, _CMP_NEQ_UQ)));
      if (mask) {
        vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, x));
        vprobe = _mm256_add_ps(vprobe, _mm256_mul_ps(x, zero));
        while (mask) {
          const int bit = __builtin_ctz(mask);
          out->indices.push_back(k + bit);
          out->values.push_back(a[k + bit]);
          mask &= mask - 1;
        }
      }
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
      if (a[k] != 0.0f) {
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

void SpmmF32Avx2(int N, const SparseRows& A, float alpha, const PackedF32& B,
                 const float* bias, float* C, size_t ldc) {
  const int panels = (N + 15) / 16;
  const __m256 va = _mm256_set1_ps(alpha);
  alignas(32) float b16[16];
  for (int p = 0; p < panels; ++p) {
    const int n0 = p * 16;
    const int ncols = N - n0 < 16 ? N - n0 : 16;
    Bias16(bias, n0, ncols, b16);
    const __m256 c0 = _mm256_load_ps(b16), c1 = _mm256_load_ps(b16 + 8);
    const float* panel = B.Panel(p);
    for (int m = 0; m < A.M; ++m) {
      __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
      for (int32_t e = A.offsets[m]; e < A.offsets[m + 1]; ++e) {
        const __m256 v = _mm256_set1_ps(A.values[e]);
        const float* w = panel + static_cast<size_t>(A.indices[e]) * 16;
        acc0 = _mm256_fmadd_ps(v, _mm256_load_ps(w), acc0);
        acc1 = _mm256_fmadd_ps(v, _mm256_load_ps(w + 8), acc1);
      }
      StorePanel(_mm256_fmadd_ps(acc0, va, c0), _mm256_fmadd_ps(acc1, va, c1),
                 C + static_cast<size_t>(m) * ldc + n0, ncols);
    }
  }
}

void SpmmI8Avx2(int N, const SparseRows& A, const PackedI8& B,
                const float* bias, float* C, size_t ldc) {
  const int panels = (N + 15) / 16;
  std::vector<int32_t> q;  // the current row's quantized non-zeros
  alignas(32) float b16[16];
  for (int m = 0; m < A.M; ++m) {
    float scale = 0.0f, inv = 0.0f;
    if (!A.finite[m]) {
      scale = NAN;
    } else if (A.amax[m] != 0.0f) {
      scale = A.amax[m] / kI8Max;
      inv = kI8Max / A.amax[m];
    }
    const int32_t e0 = A.offsets[m], e1 = A.finite[m] ? A.offsets[m + 1] : e0;
    q.resize(e1 - e0);
    for (int32_t e = e0; e < e1; ++e) {
      float r = std::nearbyint(A.values[e] * inv);
      r = std::fmin(std::fmax(r, -static_cast<float>(kI8Max)), kI8Max);
      q[e - e0] = static_cast<int32_t>(r);
    }
    const __m256 rs = _mm256_set1_ps(scale);
    // Few terms: exact float FMAs on the float copy of q (see PackedI8::qf).
    const bool exact_float = B.qf && e1 - e0 <= kExactFloatTerms;
    for (int p = 0; p < panels; ++p) {
      const int n0 = p * 16;
      const int ncols = N - n0 < 16 ? N - n0 : 16;
      const int8_t* panel = B.Panel(p);
      __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
      if (exact_float) {
        const float* fp = B.qf.get() + static_cast<size_t>(p) * B.K * 16;
        __m256 f0 = _mm256_setzero_ps(), f1 = f0;
        for (int32_t e = e0; e < e1; ++e) {
          const __m256 qa = _mm256_set1_ps(static_cast<float>(q[e - e0]));
          const float* w = fp + static_cast<size_t>(A.indices[e]) * 16;
          f0 = _mm256_fmadd_ps(qa, _mm256_load_ps(w), f0);
          f1 = _mm256_fmadd_ps(qa, _mm256_load_ps(w + 8), f1);
        }
        acc0 = _mm256_cvtps_epi32(f0);  // exact integers: no rounding
        acc1 = _mm256_cvtps_epi32(f1);
      }
      for (int32_t e = exact_float ? e1 : e0; e < e1; ++e) {
        const int k = A.indices[e];
        const int8_t* g = panel + static_cast<size_t>(k / kI8KGroup) * kI8PanelCols * kI8KGroup;
        const __m128i shift = _mm_cvtsi32_si128(8 * (3 - k % kI8KGroup));
        const __m256i qa = _mm256_set1_epi32(q[e - e0]);
        const __m256i w0 = _mm256_srai_epi32(_mm256_sll_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(g)), shift), 24);
        const __m256i w1 = _mm256_srai_epi32(_mm256_sll_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(g + 32)), shift), 24);
        acc0 = _mm256_add_epi32(acc0, _mm256_mullo_epi32(w0, qa));
        acc1 = _mm256_add_epi32(acc1, _mm256_mullo_epi32(w1, qa));
      }
      Bias16(bias, n0, ncols, b16);
      const __m256 s0 = _mm256_load_ps(B.scales.get() + n0), s1 = _mm256_load_ps(B.scales.get() + n0 + 8);
      const __m256 y0 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc0), _mm256_mul_ps(rs, s0)), _mm256_load_ps(b16));
      const __m256 y1 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc1), _mm256_mul_ps(rs, s1)), _mm256_load_ps(b16 + 8));
      StorePanel(y0, y1, C + static_cast<size_t>(m) * ldc + n0, ncols);
    }
  }
}

}  // namespace quant
}  // namespace infera
#endif  // INFERA_X86_KERNELS
