// N-API entry points describing the machine and the build (all synchronous):
//   cudaInfo()    -> { available, deviceCount, reason?, devices? }
//   cpuFeatures() -> { avx2, fma, avx512f, avx512vnni, avxvnni }
//   buildInfo()   -> { cuda, tensorrt, compiler }
//   computeThreads() -> threads of the compute pool (helpers + caller)
#pragma once

#define INFERA_NAPI
#include "common.h"

namespace infera {

Napi::Value CudaInfo(const Napi::CallbackInfo& info);
Napi::Value CpuFeaturesInfo(const Napi::CallbackInfo& info);
Napi::Value BuildInfo(const Napi::CallbackInfo& info);
Napi::Value ComputeThreads(const Napi::CallbackInfo& info);

}  // namespace infera
