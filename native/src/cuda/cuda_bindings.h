// N-API entry points of the GPU int8 GEMM (the GPU feature transform is
// cudaTransformFeatures in features/feature_bindings.h):
//   cudaInt8Gemm(A: Float32Array [M x K], M, K,
//                W: { q: Int8Array [K x N], scales: Float32Array [N] }, N,
//                opts?: { alpha = 1, bias?: Float32Array [N] })
//       -> Promise<Float32Array [M x N]>, equal to int8Gemm('ref', ...)
// Throws "CUDA is not available: <reason>" first when cudaInfo().available
// is false (always in the node-gyp build), before any other check.
#pragma once

#define INFERA_NAPI
#include "common.h"

namespace infera {
namespace cuda {

Napi::Value CudaInt8Gemm(const Napi::CallbackInfo& info);

}  // namespace cuda
}  // namespace infera
