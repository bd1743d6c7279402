// Every GEMM kernel variant (contracts in gemm_types.h). The scalar
// references build everywhere; the SIMD variants exist only on x86-64 and are
// compiled with per-file flags (-mavx2 -mfma [-mavxvnni] -ffp-contract=off),
// so they may only be called after dispatch.h has checked the CPU.
#pragma once

#include "quant/gemm_types.h"

#if defined(__x86_64__) || defined(_M_X64)
#define INFERA_X86_KERNELS 1
#endif

// Tile epilogues must inline into the tiles, or GCC keeps the accumulators
// in stack slots across the whole k loop (measured: 2x slower).
#if defined(__GNUC__)
#define INFERA_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define INFERA_ALWAYS_INLINE __forceinline
#endif

namespace infera {
namespace quant {

// Scalar references: obviously correct loops, sequential k order.
void GemmF32Ref(int M, int N, int K, float alpha, const float* A, size_t lda,
                const PackedF32& B, const float* bias, float* C, size_t ldc);
void QuantizeRowsRef(int M, int K, const float* A, size_t lda, int8_t* q,
                     int Kp, float* scales);
void Int8GemmRef(int M, int N, const int8_t* qa, int Kp,
                 const float* row_scales, const PackedI8& B, const float* bias,
                 float* C, size_t ldc);
size_t ScanRowsRef(int M, int K, const float* A, size_t lda, size_t max_nnz,
                   SparseRows* out);
void SpmmF32Ref(int N, const SparseRows& A, float alpha, const PackedF32& B,
                const float* bias, float* C, size_t ldc);
void SpmmI8Ref(int N, const SparseRows& A, const PackedI8& B,
               const float* bias, float* C, size_t ldc);

#ifdef INFERA_X86_KERNELS
// AVX2 + FMA: 6x16 fp32 register tile (12 ymm accumulators).
void GemmF32Avx2(int M, int N, int K, float alpha, const float* A, size_t lda,
                 const PackedF32& B, const float* bias, float* C, size_t ldc);
// AVX2: 32 floats per step, rounding as nearbyint (MXCSR round-to-nearest).
void QuantizeRowsAvx2(int M, int K, const float* A, size_t lda, int8_t* q,
                      int Kp, float* scales);
// AVX2: 4x16 int32 tile; s8 x s8 via maddubs(|a|, sign(b, a)) + madd.
void Int8GemmAvx2(int M, int N, const int8_t* qa, int Kp,
                  const float* row_scales, const PackedI8& B, const float* bias,
                  float* C, size_t ldc);
// AVX-VNNI (VEX vpdpbusd): 4x16 int32 tile; u8 = s8 + 128 with the column-sum
// correction acc = dot(a + 128, b) - 128 * colsum(b).
// AVX2 sparse kernels: a compare/movemask scan, 16-column panels per
// non-zero (fp32: FMA; int8: byte extract + vpmulld into int32).
size_t ScanRowsAvx2(int M, int K, const float* A, size_t lda, size_t max_nnz,
                    SparseRows* out);
void SpmmF32Avx2(int N, const SparseRows& A, float alpha, const PackedF32& B,
                 const float* bias, float* C, size_t ldc);
void SpmmI8Avx2(int N, const SparseRows& A, const PackedI8& B,
                const float* bias, float* C, size_t ldc);
void Int8GemmAvxVnni(int M, int N, const int8_t* qa, int Kp,
                     const float* row_scales, const PackedI8& B,
                     const float* bias, float* C, size_t ldc);
#endif

}  // namespace quant
}  // namespace infera
