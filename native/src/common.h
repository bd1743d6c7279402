// Shared guard macros and a small Status type for the Infera addon.
//
// Conventions:
//  - Entry points validate first ("guard"), then do the work. Guards throw
//    JS exceptions (the addon is built with NAPI_CPP_EXCEPTIONS in both
//    node-gyp and cmake-js builds).
//  - Pure C++ cores (batch copy, JSON scanning, device query) do not define
//    INFERA_NAPI, so napi.h stays out of them; they report failure through
//    Status so they can run in AsyncWorker::Execute() without touching JS.
#ifndef INFERA_COMMON_H_
#define INFERA_COMMON_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

namespace infera {

// Result of a pure C++ operation: ok, or an error message plus an optional
// byte offset (used by the JSON scanner for "malformed JSON at byte N").
class Status {
 public:
  static Status Ok() { return Status(); }
  static Status Error(std::string message, size_t offset = kNoOffset) {
    Status s;
    s.ok_ = false;
    s.message_ = std::move(message);
    s.offset_ = offset;
    return s;
  }

  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }
  size_t offset() const { return offset_; }
  bool has_offset() const { return offset_ != kNoOffset; }

  static constexpr size_t kNoOffset = std::numeric_limits<size_t>::max();

 private:
  bool ok_ = true;
  std::string message_;
  size_t offset_ = kNoOffset;
};

// a * b with overflow detection; returns false on overflow.
inline bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

// a + b with overflow detection; returns false on overflow.
inline bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) {
  if (b > std::numeric_limits<uint64_t>::max() - a) return false;
  *out = a + b;
  return true;
}

}  // namespace infera

#endif  // INFERA_COMMON_H_

// N-API helpers: visible to translation units that define INFERA_NAPI before
// including this header (separately guarded so include order does not matter).
#if defined(INFERA_NAPI) && !defined(INFERA_COMMON_NAPI_H_)
#define INFERA_COMMON_NAPI_H_
#include <napi.h>

#include <cstdlib>
#include <cstring>
#include <memory>

// Throw a JS TypeError with `msg` (anything convertible to std::string).
#define THROW_TYPEERROR_IF(cond, env, msg)                  \
  do {                                                      \
    if (cond) {                                             \
      throw Napi::TypeError::New((env), std::string(msg));  \
    }                                                       \
  } while (0)

// Throw a JS RangeError with `msg`.
#define THROW_RANGEERROR_IF(cond, env, msg)                 \
  do {                                                      \
    if (cond) {                                             \
      throw Napi::RangeError::New((env), std::string(msg)); \
    }                                                       \
  } while (0)

namespace infera {

// Reads a JS number that must be a non-negative integer no larger than
// Number.MAX_SAFE_INTEGER. `what` names the argument in the error message.
inline uint64_t GetSizeArg(const Napi::Env& env, const Napi::Value& v,
                           const std::string& what) {
  THROW_TYPEERROR_IF(!v.IsNumber(), env, what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1
  THROW_TYPEERROR_IF(!(d >= 0 && d <= kMaxSafe) || d != static_cast<double>(
                         static_cast<uint64_t>(d)),
                     env, what + " must be a non-negative safe integer");
  return static_cast<uint64_t>(d);
}

// Owner of a malloc'd buffer produced off the JS thread.
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using MallocBytes = std::unique_ptr<uint8_t, FreeDeleter>;

// Below this size a copy into a V8-owned ArrayBuffer is cheaper than an
// external buffer (which costs a finalizer and a GC callback).
constexpr size_t kMinExternalBytes = 64 * 1024;

// Hands a malloc'd buffer to JS. Zero-copy (external ArrayBuffer freed by the
// GC) for large buffers when the runtime allows external buffers; otherwise
// (small, or a V8 sandbox build) copies into a regular ArrayBuffer.
// Must run on the JS thread. Not for results that may be posted to a worker
// thread: Node clones an external ArrayBuffer instead of transferring it
// (3.6 ms for 2.4 MiB); allocate those as V8 ArrayBuffers up front instead
// (see batch_bindings.cc).
inline Napi::ArrayBuffer AdoptMallocBuffer(Napi::Env env, MallocBytes data,
                                           size_t len) {
  if (len >= kMinExternalBytes && data) {
    napi_value ab = nullptr;
    const napi_status st = napi_create_external_arraybuffer(
        env, data.get(), len,
        [](napi_env, void* p, void*) { std::free(p); }, nullptr, &ab);
    if (st == napi_ok) {
      data.release();  // now owned by the ArrayBuffer's finalizer
      return Napi::ArrayBuffer(env, ab);
    }
  }
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, len);
  if (len > 0) std::memcpy(out.Data(), data.get(), len);
  return out;
}

}  // namespace infera
#endif  // INFERA_NAPI
