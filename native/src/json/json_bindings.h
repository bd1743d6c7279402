// N-API entry points for numeric "data" array extraction
// (contract in number_arrays.h).
//   parseJsonNumberArrays(body: Uint8Array)
//       -> Promise<{ json: string, arrays: Float64Array[], nested: boolean[] }>
//   parseJsonNumberArraysSync(body: Uint8Array) -> the same object
// Malformed input rejects/throws a SyntaxError "malformed JSON at byte N (...)"
// with a numeric `byteOffset` property.
#pragma once

#define INFERA_NAPI
#include "../common.h"

namespace infera {
namespace json {

Napi::Value ParseJsonNumberArraysAsync(const Napi::CallbackInfo& info);
Napi::Value ParseJsonNumberArraysSync(const Napi::CallbackInfo& info);

}  // namespace json
}  // namespace infera
