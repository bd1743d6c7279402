// Converts the pure C++ device/CPU/build queries into JS objects.
// Build-time facts come from defines set by the build files:
//   INFERA_WITH_CUDA          cmake-js build with nvcc (device.cu linked)
//   INFERA_WITH_TENSORRT      cmake-js found NvInfer.h (no TensorRT code yet)
#include "system_info.h"

#include "exec/thread_pool.h"

#include "cpu/cpu_features.h"
#include "cuda/device.h"

namespace infera {
namespace {

#define INFERA_STR2(x) #x
#define INFERA_STR(x) INFERA_STR2(x)

std::string CompilerName() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return std::string("msvc ") + INFERA_STR(_MSC_FULL_VER);
#else
  return "unknown";
#endif
}

}  // namespace

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const cuda::CudaReport report = cuda::QueryCudaDevices();
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", Napi::Boolean::New(env, report.available));
  out.Set("deviceCount", Napi::Number::New(env, report.device_count));
  if (!report.available) {
    out.Set("reason", Napi::String::New(env, report.reason));
    return out;
  }
  Napi::Array devices = Napi::Array::New(env, report.devices.size());
  for (size_t i = 0; i < report.devices.size(); ++i) {
    const cuda::CudaDevice& d = report.devices[i];
    Napi::Object dev = Napi::Object::New(env);
    dev.Set("name", Napi::String::New(env, d.name));
    dev.Set("computeCapability",
            Napi::String::New(env, std::to_string(d.major) + "." +
                                       std::to_string(d.minor)));
    dev.Set("totalMemory",
            Napi::Number::New(env, static_cast<double>(d.total_memory)));
    devices.Set(static_cast<uint32_t>(i), dev);
  }
  out.Set("devices", devices);
  return out;
}

Napi::Value CpuFeaturesInfo(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const cpu::CpuFeatures f = cpu::DetectCpuFeatures();
  Napi::Object out = Napi::Object::New(env);
  out.Set("avx2", Napi::Boolean::New(env, f.avx2));
  out.Set("fma", Napi::Boolean::New(env, f.fma));
  out.Set("avx512f", Napi::Boolean::New(env, f.avx512f));
  out.Set("avx512vnni", Napi::Boolean::New(env, f.avx512vnni));
  out.Set("avxvnni", Napi::Boolean::New(env, f.avxvnni));
  return out;
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
#ifdef INFERA_WITH_CUDA
  out.Set("cuda", Napi::Boolean::New(env, true));
#else
  out.Set("cuda", Napi::Boolean::New(env, false));
#endif
#ifdef INFERA_WITH_TENSORRT
  out.Set("tensorrt", Napi::Boolean::New(env, true));
#else
  out.Set("tensorrt", Napi::Boolean::New(env, false));
#endif
  out.Set("compiler", Napi::String::New(env, CompilerName()));
  return out;
}

// Starts the pool if it is not running yet (its size is fixed at first use).
Napi::Value ComputeThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), exec::ThreadPool::Instance().Concurrency());
}

}  // namespace infera
