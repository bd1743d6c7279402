// The feature transform's dense tensor on the GPU (contract in cuda_ops.h;
// host preparation in features/feature_gpu.cc). One thread per row writes
// that row's columns; the tensor is zeroed first (cudaMemsetAsync). Same
// formulas as the CPU: double arithmetic stored once to float, sin/cos from
// the JavaScript-computed tables. log1p is CUDA's (within 1 ulp in double),
// so a numeric log1p column may differ from the CPU by 1 float ulp.
#include <cuda_runtime.h>

#include <cstring>
#include <vector>

#include "cuda/cuda_context.cuh"
#include "cuda/cuda_ops.h"

namespace infera {
namespace cuda {
namespace {

constexpr int kThreads = 128;

__device__ int MinuteOfDayDev(double ms, bool* negative_zero) {
  double m = fmod(floor(ms / 60000.0), 1440.0);
  *negative_zero = m == 0.0 && signbit(m);
  if (m < 0) m += 1440.0;
  return static_cast<int>(m);
}

__device__ int DayOfWeekDev(double ms) {
  double d = fmod(floor(ms / 86400000.0) + 4.0, 7.0);
  if (d < 0) d += 7.0;
  return static_cast<int>(d);
}

__global__ void FeaturesKernel(const GpuBlock* blocks, int nblocks, const double* const* fields,
                               const int32_t* const* indices, const float* hour, const float* week,
                               int rows, int width, float* out) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  float* row = out + static_cast<size_t>(r) * width;
  for (int i = 0; i < nblocks; ++i) {
    const GpuBlock b = blocks[i];
    if (b.kind == 0) {
      const double x = fields[b.field][r];
      const double v = b.log1p ? log1p(x > 0 ? x : 0.0) : x;
      const double z = __ddiv_rn(__dsub_rn(v, b.mean), b.std);
      row[b.offset] = __double2float_rn(z > b.clip ? b.clip : z < -b.clip ? -b.clip : z);
    } else if (b.kind == 1 || b.kind == 2) {
      const double t = fields[b.field][r];
      bool negative_zero = false;
      const int mod = MinuteOfDayDev(t, &negative_zero);
      if (b.kind == 1) {
        const float* sc = b.unit == 0 ? hour + 2 * mod : week + 2 * (DayOfWeekDev(t) * 1440 + mod);
        row[b.offset] = (b.unit == 0 && negative_zero) ? -0.0f : sc[0];
        row[b.offset + 1] = sc[1];
      } else {
        row[b.offset + (b.unit == 0 ? mod / 60 : DayOfWeekDev(t))] = 1.0f;
      }
    } else {
      const int32_t k = indices[b.index][r];
      if (k >= 0) row[b.offset + k] = 1.0f;
    }
  }
}

}  // namespace

Status FeaturesDevice(const FeatureGpuBatch& b, float* out) {
  const size_t rows = b.rows, width = b.width;
  const size_t out_bytes = rows * width * sizeof(float);
  if (rows == 0) return Status::Ok();
  Context& c = Context::Instance();
  std::lock_guard<std::mutex> lock(c.mu);
  const Status s = EnsureStream(c);
  if (!s.ok()) return s;
  // Layout of one upload: blocks, field values, block indices, then the
  // device pointer arrays; tables separately.
  const size_t nf = b.fields.size(), ni = b.indices.size();
  size_t bytes = b.blocks.size() * sizeof(GpuBlock);
  std::vector<size_t> field_at(nf), index_at(ni);
  auto align = [](size_t x) { return (x + 15) / 16 * 16; };
  for (size_t f = 0; f < nf; ++f) {
    field_at[f] = bytes = align(bytes);
    if (b.fields[f]) bytes += rows * sizeof(double);
  }
  for (size_t i = 0; i < ni; ++i) {
    index_at[i] = bytes = align(bytes);
    bytes += rows * sizeof(int32_t);
  }
  const size_t ptrs_at = bytes = align(bytes);
  bytes += (nf + ni) * sizeof(void*);
  const size_t table_bytes = (1440 + 10080) * 2 * sizeof(float);
  INFERA_CUDA_TRY(c.h_in.Reserve(bytes + table_bytes), "cudaMallocHost");
  INFERA_CUDA_TRY(c.h_out.Reserve(out_bytes), "cudaMallocHost");
  INFERA_CUDA_TRY(c.d_in.Reserve(bytes), "cudaMalloc");
  INFERA_CUDA_TRY(c.d_tables.Reserve(table_bytes), "cudaMalloc");
  INFERA_CUDA_TRY(c.d_out.Reserve(out_bytes), "cudaMalloc");
  uint8_t* h = c.h_in.As<uint8_t>();
  uint8_t* d = c.d_in.As<uint8_t>();
  std::memcpy(h, b.blocks.data(), b.blocks.size() * sizeof(GpuBlock));
  void** ptrs = reinterpret_cast<void**>(h + ptrs_at);
  for (size_t f = 0; f < nf; ++f) {
    if (b.fields[f]) std::memcpy(h + field_at[f], b.fields[f], rows * sizeof(double));
    ptrs[f] = b.fields[f] ? d + field_at[f] : nullptr;
  }
  for (size_t i = 0; i < ni; ++i) {
    std::memcpy(h + index_at[i], b.indices[i], rows * sizeof(int32_t));
    ptrs[nf + i] = d + index_at[i];
  }
  float* ht = reinterpret_cast<float*>(h + bytes);
  std::memcpy(ht, b.hour_table, 1440 * 2 * sizeof(float));
  std::memcpy(ht + 1440 * 2, b.week_table, 10080 * 2 * sizeof(float));
  INFERA_CUDA_TRY(cudaMemcpyAsync(d, h, bytes, cudaMemcpyHostToDevice, c.stream), "cudaMemcpyAsync");
  INFERA_CUDA_TRY(cudaMemcpyAsync(c.d_tables.As<void>(), ht, table_bytes, cudaMemcpyHostToDevice, c.stream), "cudaMemcpyAsync");
  INFERA_CUDA_TRY(cudaMemsetAsync(c.d_out.As<void>(), 0, out_bytes, c.stream), "cudaMemsetAsync");
  const float* d_hour = c.d_tables.As<float>();
  FeaturesKernel<<<static_cast<unsigned>((rows + kThreads - 1) / kThreads), kThreads, 0, c.stream>>>(
      reinterpret_cast<const GpuBlock*>(d), static_cast<int>(b.blocks.size()),
      reinterpret_cast<const double* const*>(d + ptrs_at),
      reinterpret_cast<const int32_t* const*>(d + ptrs_at + nf * sizeof(void*)),
      d_hour, d_hour + 1440 * 2, static_cast<int>(rows), static_cast<int>(width), c.d_out.As<float>());
  INFERA_CUDA_TRY(cudaGetLastError(), "features kernel launch");
  INFERA_CUDA_TRY(cudaMemcpyAsync(c.h_out.As<void>(), c.d_out.As<void>(), out_bytes, cudaMemcpyDeviceToHost, c.stream), "cudaMemcpyAsync");
  INFERA_CUDA_TRY(cudaStreamSynchronize(c.stream), "cudaStreamSynchronize");
  std::memcpy(out, c.h_out.As<void>(), out_bytes);
  return Status::Ok();
}

}  // namespace cuda
}  // namespace infera
