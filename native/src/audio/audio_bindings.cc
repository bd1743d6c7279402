// N-API glue of the audio front end (contract in audio_bindings.h).
#include "audio/audio_bindings.h"

#include "audio/resample.h"
#include "typed_args.h"

namespace infera {
namespace audio {
namespace {

constexpr uint64_t kMaxRate = 384000;

struct ResampleArgs {
  Napi::Float32Array samples;
  std::shared_ptr<const ResampleFilter> filter;
};

ResampleArgs ParseResample(const Napi::CallbackInfo& info, const char* fn) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 2, env, std::string(fn) + "(samples, rate) expects 2 arguments");
  ResampleArgs a;
  a.samples = RequireTyped<float>(env, info[0], "samples");
  const int rate = GetIntArg(env, info[1], "rate", kMaxRate);
  THROW_RANGEERROR_IF(rate == 0, env, "rate must be a positive integer");
  a.filter = FilterFor(rate);  // designed once per rate, on this first call
  return a;
}

class ResampleWorker : public Napi::AsyncWorker {
 public:
  ResampleWorker(Napi::Env env, ResampleArgs a)
      : Napi::AsyncWorker(env, "infera:resampleTo16k"),
        deferred_(Napi::Promise::Deferred::New(env)),
        pin_(Napi::Persistent(static_cast<Napi::Object>(a.samples))),
        x_(a.samples.Data()), n_(a.samples.ElementLength()), filter_(std::move(a.filter)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    m_ = ResampledLength(*filter_, n_);
    out_.reset(static_cast<uint8_t*>(std::malloc(m_ > 0 ? m_ * sizeof(float) : 1)));
    if (!out_) return SetError("out of memory allocating the resampled audio");
    Resample(*filter_, x_, n_, reinterpret_cast<float*>(out_.get()));
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::ArrayBuffer ab = AdoptMallocBuffer(env, std::move(out_), m_ * sizeof(float));
    deferred_.Resolve(Napi::Float32Array::New(env, m_, ab, 0));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference pin_;
  const float* x_;
  size_t n_;
  std::shared_ptr<const ResampleFilter> filter_;
  MallocBytes out_;
  size_t m_ = 0;
};

}  // namespace

Napi::Value Pcm16ToFloatBinding(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 1, env, "pcm16ToFloat(bytes, channels?) expects bytes");
  const auto bytes = RequireTyped<uint8_t>(env, info[0], "bytes");
  const int channels = info.Length() > 1 && !info[1].IsUndefined() ? GetIntArg(env, info[1], "channels", 64) : 1;
  THROW_RANGEERROR_IF(channels == 0, env, "channels must be at least 1");
  const size_t frames = bytes.ByteLength() / (2 * static_cast<size_t>(channels));
  Napi::Float32Array out = Napi::Float32Array::New(env, frames);
  Pcm16ToFloat(bytes.Data(), frames, channels, out.Data());
  return out;
}

Napi::Value ResampleTo16kAsync(const Napi::CallbackInfo& info) {
  ResampleArgs a = ParseResample(info, "resampleTo16k");
  auto* worker = new ResampleWorker(info.Env(), std::move(a));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value ResampleTo16kSync(const Napi::CallbackInfo& info) {
  const ResampleArgs a = ParseResample(info, "resampleTo16kSync");
  const size_t m = ResampledLength(*a.filter, a.samples.ElementLength());
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), m);
  Resample(*a.filter, a.samples.Data(), a.samples.ElementLength(), out.Data());
  return out;
}

}  // namespace audio
}  // namespace infera
