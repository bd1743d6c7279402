// N-API glue for ExtractNumberArrays: guards, sync path and AsyncWorker.
//
// Async invariants: the body is pinned by a persistent reference until the
// worker is destroyed (callers must not transfer/detach its ArrayBuffer until
// the promise settles); Execute() only reads the raw bytes and fills an
// Extraction; JS values are created in OnOK()/OnError() on the JS thread.
#include "json_bindings.h"

#include <cstring>

#include "number_arrays.h"

namespace infera {
namespace json {
namespace {

Napi::Uint8Array RequireBody(const Napi::CallbackInfo& info, const char* fn) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 1, env,
                     std::string(fn) + "(body) expects 1 argument");
  const Napi::Value v = info[0];
  THROW_TYPEERROR_IF(!v.IsTypedArray() ||
                         v.As<Napi::TypedArray>().TypedArrayType() !=
                             napi_uint8_array,
                     env, "body must be a Uint8Array");
  return v.As<Napi::Uint8Array>();
}

// Builds { json, arrays, nested }. Every array is a view into ONE V8-owned
// ArrayBuffer (copied from the parse buffers on the JS thread).
// Measured reason (VAD, one 1536-sample chunk per request, one core): one
// adopted malloc'd buffer per array (4 a request, each with a finalizer) made
// V8's array-buffer sweep 0.49 ms of a 0.82 ms scavenge, and those scavenges
// were the p99 of a one-connection run (trace-gc-nvp: sweep_array_buffers).
// The copy costs ~1 us per 12 KiB; the parse itself ~10 ns a number.
Napi::Object ToJs(Napi::Env env, Extraction* ex) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("json", Napi::String::New(env, ex->json));
  const size_t count = ex->arrays.size();
  Napi::Array arrays = Napi::Array::New(env, count);
  Napi::Array nested = Napi::Array::New(env, count);
  size_t total = 0;
  for (size_t k = 0; k < count; ++k) total += ex->arrays[k].size();
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, total * sizeof(double));
  double* dst = static_cast<double*>(ab.Data());
  size_t at = 0;
  for (size_t k = 0; k < count; ++k) {
    const size_t len = ex->arrays[k].size();
    if (len > 0) std::memcpy(dst + at, ex->arrays[k].data(), len * sizeof(double));
    const uint32_t i = static_cast<uint32_t>(k);
    arrays.Set(i, Napi::Float64Array::New(env, len, ab, at * sizeof(double)));
    nested.Set(i, Napi::Boolean::New(env, ex->nested[k] != 0));
    at += len;
  }
  result.Set("arrays", arrays);
  result.Set("nested", nested);
  return result;
}

// SyntaxError for malformed input (status has a byte offset), else Error.
Napi::Error ToJsError(Napi::Env env, const Status& status) {
  if (!status.has_offset()) return Napi::Error::New(env, status.message());
  Napi::Function ctor =
      env.Global().Get("SyntaxError").As<Napi::Function>();
  Napi::Object err = ctor.New({Napi::String::New(env, status.message())});
  err.Set("byteOffset",
          Napi::Number::New(env, static_cast<double>(status.offset())));
  return Napi::Error(env, err);
}

class ParseWorker : public Napi::AsyncWorker {
 public:
  ParseWorker(Napi::Env env, Napi::Uint8Array body)
      : Napi::AsyncWorker(env, "infera:parseJsonNumberArrays"),
        deferred_(Napi::Promise::Deferred::New(env)),
        pin_(Napi::Persistent(static_cast<Napi::Object>(body))),
        data_(body.Data()),
        len_(body.ByteLength()) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    status_ = ExtractNumberArrays(data_, len_, &extraction_);
    if (!status_.ok()) SetError(status_.message());
  }

  void OnOK() override { deferred_.Resolve(ToJs(Env(), &extraction_)); }

  void OnError(const Napi::Error&) override {
    deferred_.Reject(ToJsError(Env(), status_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference pin_;
  const uint8_t* data_;
  size_t len_;
  Extraction extraction_;
  Status status_;
};

}  // namespace

Napi::Value ParseJsonNumberArraysAsync(const Napi::CallbackInfo& info) {
  Napi::Uint8Array body = RequireBody(info, "parseJsonNumberArrays");
  auto* worker = new ParseWorker(info.Env(), body);
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // deletes itself after OnOK/OnError
  return promise;
}

Napi::Value ParseJsonNumberArraysSync(const Napi::CallbackInfo& info) {
  Napi::Uint8Array body = RequireBody(info, "parseJsonNumberArraysSync");
  Extraction extraction;
  const Status status =
      ExtractNumberArrays(body.Data(), body.ByteLength(), &extraction);
  if (!status.ok()) throw ToJsError(info.Env(), status);
  return ToJs(info.Env(), &extraction);
}

}  // namespace json
}  // namespace infera
