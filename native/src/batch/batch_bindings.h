// N-API entry points for batch assembly (see axis_copy.h for the layout).
//   concatAxis(parts, outer, innerBytes)      -> Promise<Uint8Array>
//   concatAxisSync(parts, outer, innerBytes)  -> Uint8Array
//   sliceAxis(whole, outer, innerBytes)       -> Promise<Uint8Array[]>
//   sliceAxisSync(whole, outer, innerBytes)   -> Uint8Array[]
#pragma once

#define INFERA_NAPI
#include "../common.h"

namespace infera {
namespace batch {

Napi::Value ConcatAxisAsync(const Napi::CallbackInfo& info);
Napi::Value ConcatAxisSync(const Napi::CallbackInfo& info);
Napi::Value SliceAxisAsync(const Napi::CallbackInfo& info);
Napi::Value SliceAxisSync(const Napi::CallbackInfo& info);

}  // namespace batch
}  // namespace infera
