// Argument guards shared by the numeric N-API entry points (quant/, exec/,
// features/, audio/): typed arrays of an exact element type and length,
// integer and float options. Every guard throws a JS TypeError/RangeError
// naming the argument; entry points call them before doing any work.
#pragma once

#define INFERA_NAPI
#include "common.h"

#include <cmath>
#include <string>

namespace infera {

template <typename T>
struct TypedArrayKind;
template <>
struct TypedArrayKind<float> {
  static constexpr napi_typedarray_type kType = napi_float32_array;
  static constexpr const char* kName = "Float32Array";
};
template <>
struct TypedArrayKind<double> {
  static constexpr napi_typedarray_type kType = napi_float64_array;
  static constexpr const char* kName = "Float64Array";
};
template <>
struct TypedArrayKind<int8_t> {
  static constexpr napi_typedarray_type kType = napi_int8_array;
  static constexpr const char* kName = "Int8Array";
};
template <>
struct TypedArrayKind<int16_t> {
  static constexpr napi_typedarray_type kType = napi_int16_array;
  static constexpr const char* kName = "Int16Array";
};
template <>
struct TypedArrayKind<uint8_t> {
  static constexpr napi_typedarray_type kType = napi_uint8_array;
  static constexpr const char* kName = "Uint8Array";
};
template <>
struct TypedArrayKind<int32_t> {
  static constexpr napi_typedarray_type kType = napi_int32_array;
  static constexpr const char* kName = "Int32Array";
};
template <>
struct TypedArrayKind<uint32_t> {
  static constexpr napi_typedarray_type kType = napi_uint32_array;
  static constexpr const char* kName = "Uint32Array";
};

// A typed array of element type T; when expected != kAnyLength its length
// must equal `expected` (the message states both).
constexpr size_t kAnyLength = static_cast<size_t>(-1);

template <typename T>
Napi::TypedArrayOf<T> RequireTyped(const Napi::Env& env, const Napi::Value& v,
                                   const std::string& what,
                                   size_t expected = kAnyLength) {
  THROW_TYPEERROR_IF(!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() !=
                                              TypedArrayKind<T>::kType,
                     env, what + " must be a " + TypedArrayKind<T>::kName);
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  THROW_TYPEERROR_IF(expected != kAnyLength && a.ElementLength() != expected, env,
                     what + " has " + std::to_string(a.ElementLength()) +
                         " elements, expected " + std::to_string(expected));
  return a;
}

// A non-negative integer no larger than `max` (default: INT32_MAX).
inline int GetIntArg(const Napi::Env& env, const Napi::Value& v,
                     const std::string& what, uint64_t max = 2147483647u) {
  const uint64_t x = GetSizeArg(env, v, what);
  THROW_RANGEERROR_IF(x > max, env,
                      what + " must be at most " + std::to_string(max));
  return static_cast<int>(x);
}

// opts[key] as a finite number, or `fallback` when absent/undefined.
inline double GetFiniteOption(const Napi::Env& env, const Napi::Object& opts,
                              const char* key, double fallback) {
  if (!opts.Has(key)) return fallback;
  const Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) return fallback;
  THROW_TYPEERROR_IF(!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue()),
                     env, std::string(key) + " must be a finite number");
  return v.As<Napi::Number>().DoubleValue();
}

// opts[key] as a boolean, or `fallback`.
inline bool GetBoolOption(const Napi::Env& env, const Napi::Object& opts,
                          const char* key, bool fallback) {
  if (!opts.Has(key)) return fallback;
  const Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) return fallback;
  THROW_TYPEERROR_IF(!v.IsBoolean(), env, std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// The options object at info[i], or an empty object when absent/undefined.
inline Napi::Object GetOptions(const Napi::CallbackInfo& info, size_t i) {
  const Napi::Env env = info.Env();
  if (info.Length() <= i || info[i].IsUndefined()) return Napi::Object::New(env);
  THROW_TYPEERROR_IF(!info[i].IsObject() || info[i].IsArray(), env,
                     "options must be an object");
  return info[i].As<Napi::Object>();
}

}  // namespace infera
