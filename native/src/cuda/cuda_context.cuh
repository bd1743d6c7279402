// Process-wide CUDA resources for the .cu host code: one stream, grow-only
// device buffers (cudaMalloc) and pinned host staging buffers
// (cudaMallocHost), used under one mutex (GPU calls are serialized; the GPU
// work itself is asynchronous on the stream until the final synchronize).
// nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>
#include <string>

#include "common.h"

namespace infera {
namespace cuda {

// A grow-only allocation (device or pinned host).
class GrowBuffer {
 public:
  explicit GrowBuffer(bool pinned) : pinned_(pinned) {}
  GrowBuffer(const GrowBuffer&) = delete;
  GrowBuffer& operator=(const GrowBuffer&) = delete;

  // Ensures at least `bytes`; returns the CUDA error of a failed allocation.
  cudaError_t Reserve(size_t bytes) {
    if (bytes <= size_) return cudaSuccess;
    Release();
    const size_t want = bytes + bytes / 2;
    const cudaError_t e = pinned_ ? cudaMallocHost(&ptr_, want) : cudaMalloc(&ptr_, want);
    if (e == cudaSuccess) size_ = want;
    else ptr_ = nullptr;
    return e;
  }
  template <typename T>
  T* As() const { return static_cast<T*>(ptr_); }

 private:
  void Release() {
    if (!ptr_) return;
    if (pinned_) cudaFreeHost(ptr_);
    else cudaFree(ptr_);
    ptr_ = nullptr;
    size_ = 0;
  }
  bool pinned_;
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

// Never destroyed (see exec::ThreadPool): freeing CUDA memory from static
// destructors after the runtime has shut down is an error.
struct Context {
  std::mutex mu;
  cudaStream_t stream = nullptr;
  GrowBuffer d_in{false}, d_aux{false}, d_weights{false}, d_out{false}, d_tables{false};
  GrowBuffer h_in{true}, h_out{true};

  static Context& Instance() {
    static Context* c = new Context();
    return *c;
  }
};

inline Status CudaStatus(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  cudaGetLastError();
  return Status::Error(std::string(what) + ": " + cudaGetErrorString(e));
}

#define INFERA_CUDA_TRY(expr, what)                                   \
  do {                                                                \
    const ::infera::Status st_ = ::infera::cuda::CudaStatus((expr), (what)); \
    if (!st_.ok()) return st_;                                        \
  } while (0)

// Creates the stream on first use (under the caller's lock).
inline Status EnsureStream(Context& c) {
  if (c.stream) return Status::Ok();
  return CudaStatus(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking), "cudaStreamCreate");
}

}  // namespace cuda
}  // namespace infera
