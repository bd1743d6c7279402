// N-API glue of the GEMM kernels (contract in quant_bindings.h): guards on
// the JS thread, then the kernel runs inline (these entry points are sync).
#include "quant/quant_bindings.h"

#include <vector>

#include "quant/dispatch.h"
#include "quant/gemm_pack.h"
#include "typed_args.h"

namespace infera {
namespace quant {
namespace {

// Largest M, K or N accepted (keeps every index product within size_t and
// int arithmetic of the kernels).
constexpr uint64_t kMaxDim = 1u << 24;

struct Dims {
  int M, K, N;
};

Dims ParseDims(const Napi::CallbackInfo& info, size_t m_at, size_t k_at,
               size_t n_at) {
  const Napi::Env env = info.Env();
  Dims d;
  d.M = GetIntArg(env, info[m_at], "M", kMaxDim);
  d.K = GetIntArg(env, info[k_at], "K", kMaxDim);
  d.N = n_at == 0 ? 0 : GetIntArg(env, info[n_at], "N", kMaxDim);
  return d;
}

std::string VariantName(const Napi::Env& env, const Napi::Value& v) {
  THROW_TYPEERROR_IF(!v.IsString(), env, "variant must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::string Joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

void ThrowIfError(const Napi::Env& env, const Status& st) {
  if (!st.ok()) throw Napi::Error::New(env, st.message());
}

const float* OptionalBias(const Napi::Env& env, const Napi::Object& opts,
                          int N) {
  if (!opts.Has("bias") || opts.Get("bias").IsUndefined()) return nullptr;
  return RequireTyped<float>(env, opts.Get("bias"), "bias", N).Data();
}

// opts.path: 'dense' (default) or 'sparse' (scan into CSR, sparse kernel).
bool SparsePath(const Napi::Env& env, const Napi::Object& opts) {
  if (!opts.Has("path") || opts.Get("path").IsUndefined()) return false;
  const Napi::Value v = opts.Get("path");
  const std::string p = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  THROW_TYPEERROR_IF(p != "dense" && p != "sparse", env, "path must be 'dense' or 'sparse'");
  return p == "sparse";
}

// opts.repeat: run the kernel this many times on the same packed weights
// (timing without the per-call packing); default 1.
int Repeat(const Napi::Env& env, const Napi::Object& opts) {
  if (!opts.Has("repeat") || opts.Get("repeat").IsUndefined()) return 1;
  const int r = GetIntArg(env, opts.Get("repeat"), "repeat", 1000000);
  THROW_RANGEERROR_IF(r < 1, env, "repeat must be at least 1");
  return r;
}

Napi::Array Strings(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), v[i]);
  return a;
}

}  // namespace

Napi::Value KernelInfo(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Napi::Object f32 = Napi::Object::New(env);
  f32.Set("selected", SelectedF32().name);
  f32.Set("usable", Strings(env, UsableF32()));
  Napi::Object i8 = Napi::Object::New(env);
  i8.Set("selected", SelectedI8().name);
  i8.Set("usable", Strings(env, UsableI8()));
  const std::vector<VariantState> rows = DescribeVariants();
  Napi::Array variants = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("family", rows[i].family);
    r.Set("name", rows[i].name);
    r.Set("state", rows[i].state);
    variants.Set(static_cast<uint32_t>(i), r);
  }
  out.Set("gemmF32", f32);
  out.Set("int8Gemm", i8);
  out.Set("variants", variants);
  return out;
}

Napi::Value GemmF32Binding(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 6, env,
                     "gemmF32(variant, A, M, K, B, N, opts?) expects 6 arguments");
  const std::string name = VariantName(env, info[0]);
  const F32Variant* v = FindF32(name);
  THROW_RANGEERROR_IF(!v, env, "unknown or unusable gemmF32 variant '" + name +
                                   "' (usable: " + Joined(UsableF32()) + ", auto)");
  const Dims d = ParseDims(info, 2, 3, 5);
  const Napi::Object opts = GetOptions(info, 6);
  const auto A = RequireTyped<float>(env, info[1], "A", static_cast<size_t>(d.M) * d.K);
  const auto B = RequireTyped<float>(env, info[4], "B", static_cast<size_t>(d.K) * d.N);
  const float alpha = static_cast<float>(GetFiniteOption(env, opts, "alpha", 1.0));
  const bool trans_b = GetBoolOption(env, opts, "transB", false);
  const float* bias = OptionalBias(env, opts, d.N);

  WeightView w{B.Data(), d.K, d.N, static_cast<size_t>(trans_b ? d.K : d.N), trans_b};
  PackedF32 packed;
  ThrowIfError(env, PackF32(w, &packed));
  const bool sparse = SparsePath(env, opts);
  const int repeat = Repeat(env, opts);
  Napi::Float32Array C = Napi::Float32Array::New(env, static_cast<size_t>(d.M) * d.N);
  for (int r = 0; r < repeat && d.M > 0 && d.N > 0; ++r) {
    if (sparse) {
      SparseRows rows;
      v->scan(d.M, d.K, A.Data(), d.K, static_cast<size_t>(-1), &rows);
      v->spmm(d.N, rows, alpha, packed, bias, C.Data(), d.N);
    } else {
      v->gemm(d.M, d.N, d.K, alpha, A.Data(), d.K, packed, bias, C.Data(), d.N);
    }
  }
  return C;
}

Napi::Value Int8GemmBinding(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 6, env,
                     "int8Gemm(variant, A, M, K, W, N, opts?) expects 6 arguments");
  const std::string name = VariantName(env, info[0]);
  const I8Variant* v = FindI8(name);
  THROW_RANGEERROR_IF(!v, env, "unknown or unusable int8Gemm variant '" + name +
                                   "' (usable: " + Joined(UsableI8()) + ", auto)");
  const Dims d = ParseDims(info, 2, 3, 5);
  THROW_RANGEERROR_IF(d.K > kI8MaxK, env, "K must be at most " + std::to_string(kI8MaxK));
  const Napi::Object opts = GetOptions(info, 6);
  const auto A = RequireTyped<float>(env, info[1], "A", static_cast<size_t>(d.M) * d.K);
  const float alpha = static_cast<float>(GetFiniteOption(env, opts, "alpha", 1.0));
  const float* bias = OptionalBias(env, opts, d.N);
  std::vector<int8_t> q;
  std::vector<float> scales;
  const int8_t* qdata = nullptr;
  const float* sdata = nullptr;
  if (info[4].IsTypedArray()) {
    const auto B = RequireTyped<float>(env, info[4], "W", static_cast<size_t>(d.K) * d.N);
    ThrowIfError(env, QuantizeWeights({B.Data(), d.K, d.N, static_cast<size_t>(d.N), false},
                                      &q, &scales));
    qdata = q.data();
    sdata = scales.data();
  } else {
    THROW_TYPEERROR_IF(!info[4].IsObject(), env,
                       "W must be a Float32Array or { q: Int8Array, scales: Float32Array }");
    const Napi::Object w = info[4].As<Napi::Object>();
    qdata = RequireTyped<int8_t>(env, w.Get("q"), "W.q", static_cast<size_t>(d.K) * d.N).Data();
    sdata = RequireTyped<float>(env, w.Get("scales"), "W.scales", d.N).Data();
  }
  const bool sparse = SparsePath(env, opts);
  PackedI8 packed;
  ThrowIfError(env, PackI8(qdata, sdata, d.K, d.N, alpha, &packed, sparse));
  QuantRows rows;
  rows.M = d.M;
  rows.Kp = packed.Kp;
  rows.q = MakeAligned<int8_t>(static_cast<size_t>(d.M) * packed.Kp);
  rows.scales = MakeAligned<float>(d.M);
  THROW_RANGEERROR_IF(!rows.q || !rows.scales, env, "out of memory");
  const int repeat = Repeat(env, opts);
  Napi::Float32Array C = Napi::Float32Array::New(env, static_cast<size_t>(d.M) * d.N);
  for (int r = 0; r < repeat && d.M > 0 && d.N > 0; ++r) {
    if (sparse) {
      SparseRows srows;
      v->scan(d.M, d.K, A.Data(), d.K, static_cast<size_t>(-1), &srows);
      v->spmm(d.N, srows, packed, bias, C.Data(), d.N);
    } else {
      v->quantize(d.M, d.K, A.Data(), d.K, rows.q.get(), packed.Kp, rows.scales.get());
      v->gemm(d.M, d.N, rows.q.get(), packed.Kp, rows.scales.get(), packed, bias, C.Data(), d.N);
    }
  }
  return C;
}

Napi::Value QuantizeWeightsBinding(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 3, env,
                     "quantizeWeights(B, K, N, opts?) expects 3 arguments");
  const Dims d{0, GetIntArg(env, info[1], "K", kMaxDim), GetIntArg(env, info[2], "N", kMaxDim)};
  const Napi::Object opts = GetOptions(info, 3);
  const bool trans_b = GetBoolOption(env, opts, "transB", false);
  const auto B = RequireTyped<float>(env, info[0], "B", static_cast<size_t>(d.K) * d.N);
  std::vector<int8_t> q;
  std::vector<float> scales;
  ThrowIfError(env, QuantizeWeights({B.Data(), d.K, d.N,
                                     static_cast<size_t>(trans_b ? d.K : d.N), trans_b},
                                    &q, &scales));
  Napi::Int8Array qa = Napi::Int8Array::New(env, q.size());
  std::copy(q.begin(), q.end(), qa.Data());
  Napi::Float32Array sa = Napi::Float32Array::New(env, scales.size());
  std::copy(scales.begin(), scales.end(), sa.Data());
  Napi::Object out = Napi::Object::New(env);
  out.Set("q", qa);
  out.Set("scales", sa);
  return out;
}

Napi::Value QuantizeRowsBinding(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 4, env,
                     "quantizeRows(variant, A, M, K) expects 4 arguments");
  const std::string name = VariantName(env, info[0]);
  const I8Variant* v = FindI8(name);
  THROW_RANGEERROR_IF(!v, env, "unknown or unusable int8Gemm variant '" + name +
                                   "' (usable: " + Joined(UsableI8()) + ", auto)");
  const Dims d = ParseDims(info, 2, 3, 0);
  const auto A = RequireTyped<float>(env, info[1], "A", static_cast<size_t>(d.M) * d.K);
  const int Kp = static_cast<int>(RoundUp(d.K, kI8KGroup));
  std::vector<int8_t> padded(static_cast<size_t>(d.M) * Kp);
  Napi::Float32Array scales = Napi::Float32Array::New(env, d.M);
  if (d.M > 0) v->quantize(d.M, d.K, A.Data(), d.K, padded.data(), Kp, scales.Data());
  Napi::Int8Array q = Napi::Int8Array::New(env, static_cast<size_t>(d.M) * d.K);
  for (int m = 0; m < d.M; ++m) {
    std::copy(padded.begin() + static_cast<size_t>(m) * Kp,
              padded.begin() + static_cast<size_t>(m) * Kp + d.K,
              q.Data() + static_cast<size_t>(m) * d.K);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("q", q);
  out.Set("scales", scales);
  return out;
}

}  // namespace quant
}  // namespace infera
