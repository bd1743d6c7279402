// N-API glue of the audio front end (contract in audio_bindings.h).
#include "audio/audio_bindings.h"

#include "audio/resample.h"
#include "typed_args.h"

#include <cmath>
#include <cstring>
#include <vector>

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

// Distinct address: the type tag of stream resampler handles.
const napi_type_tag kStreamTag = {0x7a1f3c5e9b2d4a60ULL, 0x1c8e5f03a7b94d21ULL};

StreamResampler* RequireStream(const Napi::Env& env, const Napi::Value& v) {
  THROW_TYPEERROR_IF(!v.IsExternal() || !v.As<Napi::External<StreamResampler>>().CheckTypeTag(&kStreamTag),
                     env, "handle must be a stream resampler created by createStreamResampler");
  return v.As<Napi::External<StreamResampler>>().Data();
}

Napi::Float32Array ToFloat32Array(const Napi::Env& env, const std::vector<float>& v) {
  Napi::Float32Array out = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(out.Data(), v.data(), v.size() * sizeof(float));
  return out;
}

}  // namespace

Napi::Value CreateStreamResampler(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 1, env, "createStreamResampler(rate) expects a rate");
  const int rate = GetIntArg(env, info[0], "rate", kMaxRate);
  THROW_RANGEERROR_IF(rate == 0, env, "rate must be a positive integer");
  auto* s = new StreamResampler(FilterFor(rate));
  Napi::External<StreamResampler> ext = Napi::External<StreamResampler>::New(env, s, [](Napi::Env, StreamResampler* p) { delete p; });
  ext.TypeTag(&kStreamTag);
  return ext;
}

Napi::Value StreamResamplerPush(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 3, env, "streamResamplerPush(handle, bytes, format) expects 3 arguments");
  StreamResampler* s = RequireStream(env, info[0]);
  const auto bytes = RequireTyped<uint8_t>(env, info[1], "bytes");
  const std::string format = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  THROW_TYPEERROR_IF(format != "pcm16" && format != "f32", env, "format must be 'pcm16' or 'f32'");
  THROW_TYPEERROR_IF(s->flushed(), env, "the stream resampler was flushed");
  const size_t size = format == "pcm16" ? 2 : 4;
  const size_t n = bytes.ByteLength() / size;
  THROW_RANGEERROR_IF(n * size != bytes.ByteLength(), env,
                      format + " frames hold whole " + std::to_string(size) + "-byte samples; got " + std::to_string(bytes.ByteLength()) + " bytes");
  std::vector<float> out;
  if (size == 2) {
    s->PushPcm16(bytes.Data(), n, &out);
    return ToFloat32Array(env, out);
  }
  // f32 arrives at any byte offset: copy (little-endian host, as the rest of the addon).
  std::vector<float> x(n);
  if (n > 0) std::memcpy(x.data(), bytes.Data(), n * sizeof(float));
  for (size_t i = 0; i < n; ++i) {
    THROW_RANGEERROR_IF(!std::isfinite(x[i]), env, "f32 sample " + std::to_string(i) + " of the frame is not finite");
  }
  s->Push(x.data(), n, &out);
  return ToFloat32Array(env, out);
}

Napi::Value StreamResamplerFlush(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 1, env, "streamResamplerFlush(handle) expects a handle");
  StreamResampler* s = RequireStream(env, info[0]);
  THROW_TYPEERROR_IF(s->flushed(), env, "the stream resampler was flushed");
  std::vector<float> out;
  s->Flush(&out);
  return ToFloat32Array(env, out);
}

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
