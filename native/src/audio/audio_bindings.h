// N-API entry points of the audio front end (semantics in resample.h):
//   pcm16ToFloat(bytes: Uint8Array, channels = 1) -> Float32Array
//       (first channel, x / 32768; a trailing partial frame is ignored)
//   resampleTo16k(samples: Float32Array, rate) -> Promise<Float32Array>
//   resampleTo16kSync(samples, rate) -> Float32Array
//   createStreamResampler(rate) -> handle (one per stream; freed with it)
//   streamResamplerPush(handle, bytes: Uint8Array, format: 'pcm16'|'f32') -> Float32Array
//       (the 16 kHz samples now complete; RangeError for a partial or non-finite sample)
//   streamResamplerFlush(handle) -> Float32Array (the tail; the handle is then spent)
// rate: a positive integer up to 384000. The async form pins `samples`.
#pragma once

#define INFERA_NAPI
#include "common.h"

namespace infera {
namespace audio {

Napi::Value Pcm16ToFloatBinding(const Napi::CallbackInfo& info);
Napi::Value ResampleTo16kAsync(const Napi::CallbackInfo& info);
Napi::Value ResampleTo16kSync(const Napi::CallbackInfo& info);
Napi::Value CreateStreamResampler(const Napi::CallbackInfo& info);
Napi::Value StreamResamplerPush(const Napi::CallbackInfo& info);
Napi::Value StreamResamplerFlush(const Napi::CallbackInfo& info);

}  // namespace audio
}  // namespace infera
