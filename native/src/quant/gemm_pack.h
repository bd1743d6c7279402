// Packing of constant GEMM weights into the layouts of gemm_types.h, and the
// per-output-channel symmetric int8 weight quantization. Portable C++ (built
// without SIMD flags); runs once per model load.
#pragma once

#include <vector>

#include "common.h"
#include "quant/gemm_types.h"

namespace infera {
namespace quant {

// B is logically [K x N]: element (k, n) is B[k*ldb + n], or, with trans_b,
// B[n*ldb + k] (ONNX Gemm transB = 1 stores [N x K]).
struct WeightView {
  const float* data = nullptr;
  int K = 0;
  int N = 0;
  size_t ldb = 0;
  bool trans_b = false;

  float At(int k, int n) const {
    return trans_b ? data[static_cast<size_t>(n) * ldb + k]
                   : data[static_cast<size_t>(k) * ldb + n];
  }
};

// Packs an fp32 weight. Fails only when memory runs out.
Status PackF32(const WeightView& w, PackedF32* out);

// Per-output-channel symmetric quantization of a weight:
//   scale[n] = max_k |W[k][n]| / 127   (1 when the column is all zeros)
//   q[k][n]  = clamp(nearbyint(W[k][n] / scale[n]), -127, 127)
// q is [K x N] row-major. Non-finite weights are an error.
Status QuantizeWeights(const WeightView& w, std::vector<int8_t>* q,
                       std::vector<float>* scales);

// Packs an int8 weight q [K x N] (row-major, values in [-127, 127]) with its
// per-column scales; the stored scales are alpha * scales[n] (Gemm alpha
// folded in). Also fills the column sums used by u8-offset kernels.
// With float_copy, also fills PackedI8::qf (for the sparse kernels).
Status PackI8(const int8_t* q, const float* scales, int K, int N, float alpha,
              PackedI8* out, bool float_copy = false);

}  // namespace quant
}  // namespace infera
