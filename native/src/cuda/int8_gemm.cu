// int8 GEMM on the GPU (contract in cuda_ops.h): the CPU kernels' arithmetic
// with __dp4a (s8 x s8 dot of 4 pairs into s32). Results equal
// quant::Int8GemmRef bit for bit: integer sums are exact and the float steps
// use the _rn intrinsics in the reference's order (no FMA contraction).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>

#include "cuda/cuda_context.cuh"
#include "cuda/cuda_ops.h"
#include "quant/gemm_types.h"

namespace infera {
namespace cuda {
namespace {

constexpr int kTile = 16;
constexpr int kQuantThreads = 256;

// One block per row: amax and a non-finite probe (x * 0 is NaN exactly for
// NaN/Inf), then q = clamp(rint(a * (127 / amax)), -127, 127), zero padded.
__global__ void QuantizeRowsKernel(const float* A, int M, int K, int Kp, int8_t* q, float* scales) {
  __shared__ float s_max[kQuantThreads];
  __shared__ float s_probe[kQuantThreads];
  __shared__ float s_inv;
  const int m = blockIdx.x;
  if (m >= M) return;
  const float* a = A + static_cast<size_t>(m) * K;
  float amax = 0.0f, probe = 0.0f;
  for (int k = threadIdx.x; k < K; k += blockDim.x) {
    amax = fmaxf(amax, fabsf(a[k]));
    probe = __fadd_rn(probe, __fmul_rn(a[k], 0.0f));
  }
  s_max[threadIdx.x] = amax;
  s_probe[threadIdx.x] = probe;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      s_max[threadIdx.x] = fmaxf(s_max[threadIdx.x], s_max[threadIdx.x + s]);
      s_probe[threadIdx.x] = __fadd_rn(s_probe[threadIdx.x], s_probe[threadIdx.x + s]);
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const float mx = s_max[0];
    const float pr = s_probe[0];
    float scale = 0.0f, inv = 0.0f;
    if (pr != pr) {
      scale = __int_as_float(0x7fc00000);  // the CPU's NAN
    } else if (mx != 0.0f) {
      scale = __fdiv_rn(mx, static_cast<float>(quant::kI8Max));
      inv = __fdiv_rn(static_cast<float>(quant::kI8Max), mx);
    }
    scales[m] = scale;
    s_inv = inv;
  }
  __syncthreads();
  const float inv = s_inv;
  int8_t* out = q + static_cast<size_t>(m) * Kp;
  for (int k = threadIdx.x; k < Kp; k += blockDim.x) {
    float r = 0.0f;
    if (k < K && inv != 0.0f) r = fminf(fmaxf(rintf(__fmul_rn(a[k], inv)), -127.0f), 127.0f);
    out[k] = static_cast<int8_t>(static_cast<int>(r));
  }
}

// qa: [M x W] and qb: [N x W] int32 words of 4 int8 (W = Kp / 4); a 16 x 16
// output tile per block, 16-word slices of both staged in shared memory.
__global__ void Dp4aGemmKernel(const int* qa, const int* qb, int M, int N, int W,
                               const float* row_scales, const float* col_scales,
                               const float* bias, float* C) {
  __shared__ int As[kTile][kTile + 1];
  __shared__ int Bs[kTile][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int m = blockIdx.y * kTile + ty;
  const int n = blockIdx.x * kTile + tx;
  const int nb = blockIdx.x * kTile + ty;  // the B row this thread stages
  int acc = 0;
  for (int w0 = 0; w0 < W; w0 += kTile) {
    const int w = w0 + tx;
    As[ty][tx] = (m < M && w < W) ? qa[static_cast<size_t>(m) * W + w] : 0;
    Bs[ty][tx] = (nb < N && w < W) ? qb[static_cast<size_t>(nb) * W + w] : 0;
    __syncthreads();
#pragma unroll
    for (int j = 0; j < kTile; ++j) acc = __dp4a(As[ty][j], Bs[tx][j], acc);
    __syncthreads();
  }
  if (m < M && n < N) {
    const float combined = __fmul_rn(row_scales[m], col_scales[n]);
    const float b = bias ? bias[n] : 0.0f;
    C[static_cast<size_t>(m) * N + n] = __fadd_rn(__fmul_rn(__int2float_rn(acc), combined), b);
  }
}

}  // namespace

Status Int8GemmDevice(const Int8GemmProblem& p, float* C) {
  if (p.K > quant::kI8MaxK) return Status::Error("K is too large for int8");
  if (p.M <= 0 || p.N <= 0) return Status::Ok();
  if ((p.M + kTile - 1) / kTile > 65535) return Status::Error("M is too large for one launch");
  Context& c = Context::Instance();
  std::lock_guard<std::mutex> lock(c.mu);
  const Status s = EnsureStream(c);
  if (!s.ok()) return s;
  const size_t M = p.M, N = p.N, K = p.K;
  const size_t Kp = (K + 3) / 4 * 4, W = Kp / 4;
  const size_t a_bytes = M * K * sizeof(float);
  const size_t qb_bytes = N * Kp, vec_bytes = N * sizeof(float);
  INFERA_CUDA_TRY(c.h_in.Reserve(a_bytes + qb_bytes + 2 * vec_bytes), "cudaMallocHost");
  INFERA_CUDA_TRY(c.h_out.Reserve(M * N * sizeof(float)), "cudaMallocHost");
  INFERA_CUDA_TRY(c.d_in.Reserve(a_bytes), "cudaMalloc");
  INFERA_CUDA_TRY(c.d_aux.Reserve(M * Kp + M * sizeof(float) + 16), "cudaMalloc");
  INFERA_CUDA_TRY(c.d_weights.Reserve(qb_bytes + 2 * vec_bytes + 16), "cudaMalloc");
  INFERA_CUDA_TRY(c.d_out.Reserve(M * N * sizeof(float)), "cudaMalloc");
  // Stage A, B transposed to [N x Kp] (one row per output channel), the
  // scales with alpha folded in (as PackI8) and the bias in pinned memory.
  uint8_t* h = c.h_in.As<uint8_t>();
  std::memcpy(h, p.A, a_bytes);
  int8_t* hb = reinterpret_cast<int8_t*>(h + a_bytes);
  std::memset(hb, 0, qb_bytes);
  for (size_t k = 0; k < K; ++k)
    for (size_t n = 0; n < N; ++n) hb[n * Kp + k] = p.q[k * N + n];
  float* hs = reinterpret_cast<float*>(h + a_bytes + qb_bytes);
  for (size_t n = 0; n < N; ++n) {
    hs[n] = p.alpha * p.scales[n];
    hs[N + n] = p.bias ? p.bias[n] : 0.0f;
  }
  int8_t* d_qa = c.d_aux.As<int8_t>();
  float* d_sa = reinterpret_cast<float*>(c.d_aux.As<uint8_t>() + (M * Kp + 15) / 16 * 16);
  int8_t* d_qb = c.d_weights.As<int8_t>();
  float* d_sw = reinterpret_cast<float*>(c.d_weights.As<uint8_t>() + (qb_bytes + 15) / 16 * 16);
  INFERA_CUDA_TRY(cudaMemcpyAsync(c.d_in.As<void>(), h, a_bytes, cudaMemcpyHostToDevice, c.stream), "cudaMemcpyAsync");
  INFERA_CUDA_TRY(cudaMemcpyAsync(d_qb, hb, qb_bytes, cudaMemcpyHostToDevice, c.stream), "cudaMemcpyAsync");
  INFERA_CUDA_TRY(cudaMemcpyAsync(d_sw, hs, 2 * vec_bytes, cudaMemcpyHostToDevice, c.stream), "cudaMemcpyAsync");
  QuantizeRowsKernel<<<static_cast<unsigned>(M), kQuantThreads, 0, c.stream>>>(
      c.d_in.As<float>(), p.M, p.K, static_cast<int>(Kp), d_qa, d_sa);
  INFERA_CUDA_TRY(cudaGetLastError(), "quantize kernel launch");
  const dim3 grid(static_cast<unsigned>((N + kTile - 1) / kTile), static_cast<unsigned>((M + kTile - 1) / kTile));
  Dp4aGemmKernel<<<grid, dim3(kTile, kTile), 0, c.stream>>>(
      reinterpret_cast<const int*>(d_qa), reinterpret_cast<const int*>(d_qb), p.M, p.N,
      static_cast<int>(W), d_sa, d_sw, p.bias ? d_sw + N : nullptr, c.d_out.As<float>());
  INFERA_CUDA_TRY(cudaGetLastError(), "dp4a kernel launch");
  INFERA_CUDA_TRY(cudaMemcpyAsync(c.h_out.As<void>(), c.d_out.As<void>(), M * N * sizeof(float),
                                  cudaMemcpyDeviceToHost, c.stream), "cudaMemcpyAsync");
  INFERA_CUDA_TRY(cudaStreamSynchronize(c.stream), "cudaStreamSynchronize");
  std::memcpy(C, c.h_out.As<void>(), M * N * sizeof(float));
  return Status::Ok();
}

}  // namespace cuda
}  // namespace infera
