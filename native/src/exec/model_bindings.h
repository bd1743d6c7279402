// N-API entry points of the native MLP executor:
//   createNativeModel(plan, options) -> handle (an External, type-tagged)
//       plan/options: see plan_parse.h; options also: threads = 1 (most
//       row chunks one run uses), minRowsPerChunk = 0 (0: from flops/row)
//   nativeModelRun(handle, inputs: Float32Array[], rows)
//       -> Promise<Float32Array[]>   (on the libuv pool; inputs are pinned)
//   nativeModelRunSync(handle, inputs, rows) -> Float32Array[]
//   nativeModelInfo(handle, rows?) -> { precision, inputs, outputs, steps,
//       kernels, flopsPerRow, threads, chunks? (for `rows`) }
// Guards run first on the JS thread; the handle keeps the packed weights
// alive for as long as JS or a running worker holds it.
#pragma once

#define INFERA_NAPI
#include "common.h"

namespace infera {
namespace exec {

Napi::Value CreateNativeModel(const Napi::CallbackInfo& info);
Napi::Value NativeModelRun(const Napi::CallbackInfo& info);
Napi::Value NativeModelRunSync(const Napi::CallbackInfo& info);
Napi::Value NativeModelInfo(const Napi::CallbackInfo& info);

}  // namespace exec
}  // namespace infera
