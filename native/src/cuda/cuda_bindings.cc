// N-API glue of the GPU int8 GEMM (contract in cuda_bindings.h). Compiled by
// the host compiler in both builds; without CUDA it only reports why not.
#include "cuda/cuda_bindings.h"

#include <vector>

#include "cuda/cuda_ops.h"
#include "cuda/device.h"
#include "quant/gemm_types.h"
#include "typed_args.h"

namespace infera {
namespace cuda {

const std::string& UnavailableReason() {
  static const std::string reason = [] {
    const CudaReport r = QueryCudaDevices();
    return r.available ? std::string() : r.reason;
  }();
  return reason;
}

namespace {

class GemmWorker : public Napi::AsyncWorker {
 public:
  GemmWorker(Napi::Env env, Int8GemmProblem p, std::vector<Napi::Object> pins)
      : Napi::AsyncWorker(env, "infera:cudaInt8Gemm"), deferred_(Napi::Promise::Deferred::New(env)), p_(p) {
    for (const Napi::Object& o : pins) pins_.push_back(Napi::Persistent(o));
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    bytes_ = static_cast<size_t>(p_.M) * p_.N * sizeof(float);
    out_.reset(static_cast<uint8_t*>(std::malloc(bytes_ > 0 ? bytes_ : 1)));
    if (!out_) return SetError("out of memory");
    const Status st = Int8GemmDevice(p_, reinterpret_cast<float*>(out_.get()));
    if (!st.ok()) SetError(st.message());
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::ArrayBuffer ab = AdoptMallocBuffer(env, std::move(out_), bytes_);
    deferred_.Resolve(Napi::Float32Array::New(env, bytes_ / sizeof(float), ab, 0));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Int8GemmProblem p_;
  std::vector<Napi::ObjectReference> pins_;
  MallocBytes out_;
  size_t bytes_ = 0;
};

}  // namespace

Napi::Value CudaInt8Gemm(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (!UnavailableReason().empty()) {
    throw Napi::Error::New(env, "CUDA is not available: " + UnavailableReason());
  }
  THROW_TYPEERROR_IF(info.Length() < 5, env, "cudaInt8Gemm(A, M, K, W, N, opts?) expects 5 arguments");
  Int8GemmProblem p;
  p.M = GetIntArg(env, info[1], "M", 1u << 24);
  p.K = GetIntArg(env, info[2], "K", quant::kI8MaxK);
  p.N = GetIntArg(env, info[4], "N", 1u << 24);
  const auto A = RequireTyped<float>(env, info[0], "A", static_cast<size_t>(p.M) * p.K);
  THROW_TYPEERROR_IF(!info[3].IsObject() || info[3].IsTypedArray(), env,
                     "W must be { q: Int8Array, scales: Float32Array }");
  const Napi::Object w = info[3].As<Napi::Object>();
  const auto q = RequireTyped<int8_t>(env, w.Get("q"), "W.q", static_cast<size_t>(p.K) * p.N);
  const auto scales = RequireTyped<float>(env, w.Get("scales"), "W.scales", p.N);
  for (size_t i = 0; i < q.ElementLength(); ++i) {
    THROW_RANGEERROR_IF(q.Data()[i] < -quant::kI8Max, env, "int8 weight -128 is outside [-127, 127]");
  }
  const Napi::Object opts = GetOptions(info, 5);
  p.alpha = static_cast<float>(GetFiniteOption(env, opts, "alpha", 1.0));
  std::vector<Napi::Object> pins = {A, q, scales};
  if (opts.Has("bias") && !opts.Get("bias").IsUndefined()) {
    const auto bias = RequireTyped<float>(env, opts.Get("bias"), "bias", p.N);
    p.bias = bias.Data();
    pins.push_back(bias);
  }
  p.A = A.Data();
  p.q = q.Data();
  p.scales = scales.Data();
  auto* worker = new GemmWorker(env, p, std::move(pins));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace cuda
}  // namespace infera
