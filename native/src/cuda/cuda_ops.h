// GPU versions of two native hot paths, behind cudaInfo().available:
//   - int8 GEMM: dynamic per-row symmetric activation quantization and the
//     s8 x s8 -> s32 GEMM with __dp4a, then the same dequantizing epilogue
//     as quant::Int8GemmRef (IEEE round-to-nearest intrinsics, no FMA), so
//     results equal the CPU kernels bit for bit;
//   - the feature transform's dense tensor: numeric, cyclic, hour/day
//     one-hot and categorical/cross one-hot columns written on the device
//     from per-field values and per-block indices prepared on the host
//     (features::PrepareGpuInputs: strings and hashing stay on the CPU).
// Device memory comes from cudaMalloc (grow-only buffers reused per process),
// transfers go through pinned host buffers (cudaMallocHost) on one stream.
// Plain C++ header: included by nvcc and g++ TUs. Without INFERA_WITH_CUDA
// (node-gyp build) the functions are inline stubs reporting that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common.h"

namespace infera {
namespace cuda {

struct Int8GemmProblem {
  int M = 0, K = 0, N = 0;
  const float* A = nullptr;       // [M x K] row-major
  const int8_t* q = nullptr;      // [K x N] row-major, values in [-127, 127]
  const float* scales = nullptr;  // [N]
  float alpha = 1.0f;             // folded into the scales as on the CPU
  const float* bias = nullptr;    // [N] or null
};

// Block descriptor of the device feature kernel (plain data).
struct GpuBlock {
  int kind;        // 0 numeric, 1 cyclic, 2 time one-hot, 3 indexed one-hot
  int field;       // numeric/time: the field's value array
  int index;       // indexed one-hot: the block's index array
  int offset;      // first output column
  int unit;        // 0 hour of day, 1 day of week
  int log1p;       // numeric
  double mean, std, clip;
};

struct FeatureGpuBatch {
  int rows = 0;
  int width = 0;
  std::vector<GpuBlock> blocks;
  std::vector<const double*> fields;    // rows values each (numbers, epoch ms); null if unused
  std::vector<const int32_t*> indices;  // rows column offsets each (-1: leave the row zero)
  const float* hour_table = nullptr;    // 1440 x 2
  const float* week_table = nullptr;    // 10080 x 2
};

// Why the GPU paths cannot run ("" when a device is usable); the device
// query runs once per process (defined in cuda_bindings.cc, every build).
const std::string& UnavailableReason();

#ifdef INFERA_WITH_CUDA
// C: [M x N] host memory. Fails with the CUDA error text.
Status Int8GemmDevice(const Int8GemmProblem& p, float* C);
// out: [rows x width] host memory (fully written, zeros included).
Status FeaturesDevice(const FeatureGpuBatch& b, float* out);
#else
inline Status Int8GemmDevice(const Int8GemmProblem&, float*) {
  return Status::Error("built without CUDA");
}
inline Status FeaturesDevice(const FeatureGpuBatch&, float*) {
  return Status::Error("built without CUDA");
}
#endif

}  // namespace cuda
}  // namespace infera
