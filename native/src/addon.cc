// Module registration for the Infera addon (`infera.node`). Registration only:
// every function lives with its concept (batch/, json/, system_info.cc).
// The JS side loads this module exclusively through src/native/binding.ts.
#define INFERA_NAPI
#include "common.h"

#include "audio/audio_bindings.h"
#include "batch/batch_bindings.h"
#include "cuda/cuda_bindings.h"
#include "exec/model_bindings.h"
#include "features/feature_bindings.h"
#include "gbdt/gbdt_bindings.h"
#include "json/json_bindings.h"
#include "quant/quant_bindings.h"
#include "system_info.h"
#include "thread_priority.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using Fn = Napi::Value (*)(const Napi::CallbackInfo&);
  const struct {
    const char* name;
    Fn fn;
  } kFunctions[] = {
      {"concatAxis", infera::batch::ConcatAxisAsync},
      {"concatAxisSync", infera::batch::ConcatAxisSync},
      {"sliceAxis", infera::batch::SliceAxisAsync},
      {"sliceAxisSync", infera::batch::SliceAxisSync},
      {"parseJsonNumberArrays", infera::json::ParseJsonNumberArraysAsync},
      {"parseJsonNumberArraysSync", infera::json::ParseJsonNumberArraysSync},
      {"cudaInfo", infera::CudaInfo},
      {"cpuFeatures", infera::CpuFeaturesInfo},
      {"buildInfo", infera::BuildInfo},
      {"computeThreads", infera::ComputeThreads},
      {"setThreadPolicy", infera::SetThreadPolicy},
      {"kernelInfo", infera::quant::KernelInfo},
      {"gemmF32", infera::quant::GemmF32Binding},
      {"int8Gemm", infera::quant::Int8GemmBinding},
      {"quantizeWeights", infera::quant::QuantizeWeightsBinding},
      {"quantizeRows", infera::quant::QuantizeRowsBinding},
      {"createNativeModel", infera::exec::CreateNativeModel},
      {"nativeModelRun", infera::exec::NativeModelRun},
      {"nativeModelRunSync", infera::exec::NativeModelRunSync},
      {"nativeModelInfo", infera::exec::NativeModelInfo},
      {"compileFeatureSpec", infera::features::CompileFeatureSpec},
      {"transformFeatures", infera::features::TransformFeaturesAsync},
      {"transformFeaturesSync", infera::features::TransformFeaturesSync},
      {"transformRowSync", infera::features::TransformRowSync},
      {"pcm16ToFloat", infera::audio::Pcm16ToFloatBinding},
      {"resampleTo16k", infera::audio::ResampleTo16kAsync},
      {"resampleTo16kSync", infera::audio::ResampleTo16kSync},
      {"createStreamResampler", infera::audio::CreateStreamResampler},
      {"streamResamplerPush", infera::audio::StreamResamplerPush},
      {"streamResamplerFlush", infera::audio::StreamResamplerFlush},
      {"cudaInt8Gemm", infera::cuda::CudaInt8Gemm},
      {"cudaTransformFeatures", infera::features::CudaTransformFeatures},
      {"gbdtTrainSync", infera::gbdt::GbdtTrainSync},
      {"gbdtPredictSync", infera::gbdt::GbdtPredictSync},
  };
  for (const auto& f : kFunctions) {
    exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  }
  return exports;
}

}  // namespace

NODE_API_MODULE(infera, Init)
