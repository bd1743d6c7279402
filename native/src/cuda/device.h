// CUDA device query, usable from the JS-facing code in both builds.
//
// With INFERA_WITH_CUDA (cmake-js build, device.cu compiled by nvcc and the
// CUDA runtime linked statically) QueryCudaDevices() asks the runtime; it
// never throws and reports "no CUDA device: <reason>" when the driver or the
// device is missing, so the addon loads on machines without a GPU.
// Without CUDA (node-gyp build) an inline stub reports "built without CUDA".
// Plain C++ only: this header is included by nvcc and by g++ translation units.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace infera {
namespace cuda {

struct CudaDevice {
  std::string name;
  int major = 0;  // compute capability major.minor
  int minor = 0;
  size_t total_memory = 0;  // bytes of global memory
};

struct CudaReport {
  bool available = false;
  int device_count = 0;
  std::string reason;  // set when !available
  std::vector<CudaDevice> devices;
};

#ifdef INFERA_WITH_CUDA
// Defined in device.cu.
CudaReport QueryCudaDevices();
#else
inline CudaReport QueryCudaDevices() {
  CudaReport r;
  r.reason = "built without CUDA";
  return r;
}
#endif

}  // namespace cuda
}  // namespace infera
