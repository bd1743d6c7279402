// N-API entry points of the GEMM kernels, synchronous (tests, measurement and
// the `infera quantize` command; serving goes through exec/):
//   kernelInfo() -> { gemmF32: {selected, usable[]}, int8Gemm: {...},
//                     variants: [{family, name, state}] }
//   gemmF32(variant, A, M, K, B, N, opts?) -> Float32Array [M x N]
//       opts: { alpha = 1, bias?: Float32Array[N], transB = false }
//   int8Gemm(variant, A, M, K, W, N, opts?) -> Float32Array [M x N]
//       W: Float32Array [K x N] (quantized per column here) or
//          { q: Int8Array [K x N], scales: Float32Array [N] }
//   quantizeWeights(B, K, N, opts?) -> { q: Int8Array [K x N], scales }
//       opts: { transB = false }
//   quantizeRows(variant, A, M, K) -> { q: Int8Array [M x K], scales }
// `variant` is a name of kernelInfo().*.usable or "auto".
#pragma once

#define INFERA_NAPI
#include "common.h"

namespace infera {
namespace quant {

Napi::Value KernelInfo(const Napi::CallbackInfo& info);
Napi::Value GemmF32Binding(const Napi::CallbackInfo& info);
Napi::Value Int8GemmBinding(const Napi::CallbackInfo& info);
Napi::Value QuantizeWeightsBinding(const Napi::CallbackInfo& info);
Napi::Value QuantizeRowsBinding(const Napi::CallbackInfo& info);

}  // namespace quant
}  // namespace infera
