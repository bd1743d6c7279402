// CUDA runtime device query (see device.h). Compiled by nvcc in the cmake-js
// build only. Host code only: no kernels, so it is independent of the GPU
// architectures chosen with CMAKE_CUDA_ARCHITECTURES.
#include <cuda_runtime.h>

#include <string>

#include "device.h"

namespace infera {
namespace cuda {

CudaReport QueryCudaDevices() {
  CudaReport report;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    // e.g. cudaErrorNoDevice or cudaErrorInsufficientDriver (no libcuda).
    report.reason = std::string("no CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the runtime's last-error slot
    return report;
  }
  if (count <= 0) {
    report.reason = "no CUDA device: device count is 0";
    return report;
  }
  report.device_count = count;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    const cudaError_t perr = cudaGetDeviceProperties(&prop, i);
    if (perr != cudaSuccess) {
      report.reason = "device " + std::to_string(i) +
                      " properties unavailable: " + cudaGetErrorString(perr);
      cudaGetLastError();
      report.devices.clear();
      return report;
    }
    CudaDevice d;
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.total_memory = prop.totalGlobalMem;
    report.devices.push_back(d);
  }
  report.available = true;
  return report;
}

}  // namespace cuda
}  // namespace infera
