// N-API entry points of the native feature transform (contract of the plan
// in src/native/features.ts, semantics in feature_transform.h):
//   compileFeatureSpec(plan) -> handle (a type-tagged External)
//   transformFeatures(handle, columns, rows, threads, out?)
//       -> Promise<{ data: Float32Array, unknown, fallbackRows: Int32Array, invalid }>
//   transformFeaturesSync(handle, columns, rows, out?) -> the same object
// out: an optional Float32Array [rows x width] to write into (zeroed first)
// and return as `data`, so batches can reuse one buffer instead of faulting
// in a fresh multi-megabyte tensor each time (pinned while async).
//   cudaTransformFeatures(handle, columns, rows) -> the same Promise, with
//       the tensor written on the GPU (cuda/features.cu); throws "CUDA is not
//       available: <reason>" first when cudaInfo().available is false
//   transformRowSync(handle, values: unknown[], out: Float32Array [width]) -> number
//       one row from its raw values in plan field order, written into out
//       (zeroed first): the unknown-category count, or -1 when a value is
//       missing or invalid, or -2 when the row needs JavaScript's Unicode case
//       mapping (out is then unspecified)
// columns[i] (one per plan field): Float64Array [rows] (numbers, epoch ms)
// or { text: string (rows back to back), lengths: Int32Array [rows] }.
// Strings are copied on the JS thread; Float64Arrays are pinned.
#pragma once

#define INFERA_NAPI
#include "common.h"

namespace infera {
namespace features {

Napi::Value CompileFeatureSpec(const Napi::CallbackInfo& info);
Napi::Value TransformFeaturesAsync(const Napi::CallbackInfo& info);
Napi::Value TransformFeaturesSync(const Napi::CallbackInfo& info);
Napi::Value CudaTransformFeatures(const Napi::CallbackInfo& info);
Napi::Value TransformRowSync(const Napi::CallbackInfo& info);

}  // namespace features
}  // namespace infera
