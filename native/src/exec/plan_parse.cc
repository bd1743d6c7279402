// JS plan object -> Plan (contract in plan_parse.h).
#include "exec/plan_parse.h"

#include <set>

#include "quant/gemm_pack.h"
#include "typed_args.h"

namespace infera {
namespace exec {
namespace {

constexpr uint64_t kMaxWidth = 1u << 24;

Napi::Array RequireArray(const Napi::Env& env, const Napi::Object& o,
                         const char* key, const std::string& what) {
  const Napi::Value v = o.Get(key);
  THROW_TYPEERROR_IF(!v.IsArray(), env, what + "." + key + " must be an array");
  return v.As<Napi::Array>();
}

std::string RequireString(const Napi::Env& env, const Napi::Object& o,
                          const char* key, const std::string& what) {
  const Napi::Value v = o.Get(key);
  THROW_TYPEERROR_IF(!v.IsString(), env, what + "." + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object RequireObject(const Napi::Env& env, const Napi::Value& v,
                           const std::string& what) {
  THROW_TYPEERROR_IF(!v.IsObject() || v.IsArray(), env, what + " must be an object");
  return v.As<Napi::Object>();
}

template <typename T>
std::vector<T> CopyTyped(const Napi::Env& env, const Napi::Object& o,
                         const char* key, const std::string& what, size_t n) {
  const auto a = RequireTyped<T>(env, o.Get(key), what + "." + key, n);
  return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
}

class Builder {
 public:
  Builder(const Napi::Env& env, Plan* plan) : env_(env), plan_(plan) {}

  void Values(const Napi::Array& widths) {
    for (uint32_t i = 0; i < widths.Length(); ++i) {
      plan_->widths.push_back(GetIntArg(env_, widths.Get(i),
                                        "plan.values[" + std::to_string(i) + "]", kMaxWidth));
      THROW_RANGEERROR_IF(plan_->widths.back() == 0, env_,
                          "plan.values[" + std::to_string(i) + "] must be at least 1");
    }
    defined_.assign(plan_->widths.size(), false);
  }

  int ValueId(const Napi::Object& o, const char* key, const std::string& what) {
    const int id = GetIntArg(env_, o.Get(key), what + "." + key);
    THROW_RANGEERROR_IF(id >= static_cast<int>(plan_->widths.size()), env_,
                        what + "." + key + " is not a value id");
    return id;
  }

  void Refs(const Napi::Array& list, const char* what, std::vector<ValueRef>* out,
            bool inputs) {
    for (uint32_t i = 0; i < list.Length(); ++i) {
      const std::string w = std::string(what) + "[" + std::to_string(i) + "]";
      const Napi::Object o = RequireObject(env_, list.Get(i), w);
      ValueRef r{RequireString(env_, o, "name", w), ValueId(o, "value", w)};
      THROW_RANGEERROR_IF(!used_.insert(r.value).second, env_,
                          w + ": value " + std::to_string(r.value) +
                              " is already a graph input or output");
      if (inputs) defined_[r.value] = true;
      out->push_back(r);
    }
  }

  void StepAt(const Napi::Object& o, const std::string& what) {
    Step s;
    const std::string op = RequireString(env_, o, "op", what);
    s.name = o.Get("name").IsString() ? o.Get("name").As<Napi::String>().Utf8Value() : "";
    const std::string where = what + " (" + op + " '" + s.name + "')";
    s.in = ValueId(o, "input", where);
    s.out = ValueId(o, "output", where);
    THROW_RANGEERROR_IF(!defined_[s.in], env_, where + ": input value " +
                            std::to_string(s.in) + " is used before it is computed");
    THROW_RANGEERROR_IF(defined_[s.out], env_, where + ": output value " +
                            std::to_string(s.out) + " is assigned twice");
    const int win = plan_->widths[s.in];
    const int wout = plan_->widths[s.out];
    auto same_width = [&] {
      THROW_RANGEERROR_IF(win != wout, env_, where + ": input width " +
                              std::to_string(win) + " != output width " + std::to_string(wout));
    };
    if (op == "gemm") {
      s.kind = OpKind::kGemm;
      Gemm(o, where, win, wout, &s);
    } else if (op == "add_const") {
      s.kind = OpKind::kAddConst;
      same_width();
      const auto c = RequireTyped<float>(env_, o.Get("constant"), where + ".constant");
      THROW_RANGEERROR_IF(c.ElementLength() != 1 && c.ElementLength() != static_cast<size_t>(win),
                          env_, where + ".constant must hold 1 or " + std::to_string(win) + " values");
      s.constant.assign(c.Data(), c.Data() + c.ElementLength());
    } else if (op == "add") {
      s.kind = OpKind::kAdd;
      same_width();
      s.in2 = ValueId(o, "input2", where);
      THROW_RANGEERROR_IF(!defined_[s.in2] || plan_->widths[s.in2] != win, env_,
                          where + ".input2 must be a computed value of width " + std::to_string(win));
    } else if (op == "relu" || op == "sigmoid" || op == "tanh" || op == "copy") {
      s.kind = op == "relu" ? OpKind::kRelu : op == "sigmoid" ? OpKind::kSigmoid
               : op == "tanh" ? OpKind::kTanh : OpKind::kCopy;
      same_width();
    } else if (op == "softmax") {
      s.kind = OpKind::kSoftmax;
      same_width();
      s.group = GetIntArg(env_, o.Get("group"), where + ".group", kMaxWidth);
      THROW_RANGEERROR_IF(s.group == 0 || win % s.group != 0, env_,
                          where + ".group must divide the width " + std::to_string(win));
    } else {
      throw Napi::TypeError::New(env_, where + ": unknown op '" + op + "'");
    }
    defined_[s.out] = true;
    plan_->steps.push_back(std::move(s));
  }

  void Finish() {
    for (const ValueRef& r : plan_->outputs) {
      THROW_RANGEERROR_IF(!defined_[r.value], env_,
                          "output '" + r.name + "' is never computed");
    }
    std::set<int> io;
    for (const ValueRef& r : plan_->inputs) io.insert(r.value);
    for (const ValueRef& r : plan_->outputs) io.insert(r.value);
    size_t offset = 0;
    plan_->scratch_offset.assign(plan_->widths.size(), -1);
    for (size_t id = 0; id < plan_->widths.size(); ++id) {
      if (io.count(static_cast<int>(id)) == 0) {
        plan_->scratch_offset[id] = static_cast<long>(offset);
        offset += plan_->widths[id];
      }
    }
    plan_->scratch_floats_per_row = offset;
  }

 private:
  void Gemm(const Napi::Object& o, const std::string& where, int win, int wout,
            Step* s) {
    auto w = std::make_shared<GemmWeights>();
    w->K = GetIntArg(env_, o.Get("K"), where + ".K", kMaxWidth);
    w->N = GetIntArg(env_, o.Get("N"), where + ".N", kMaxWidth);
    THROW_RANGEERROR_IF(w->K != win || w->N != wout, env_,
                        where + ": K x N = " + std::to_string(w->K) + " x " +
                            std::to_string(w->N) + " does not match widths " +
                            std::to_string(win) + " -> " + std::to_string(wout));
    w->alpha = static_cast<float>(GetFiniteOption(env_, o, "alpha", 1.0));
    const size_t kn = static_cast<size_t>(w->K) * w->N;
    if (o.Has("bias") && !o.Get("bias").IsUndefined()) {
      w->bias = CopyTyped<float>(env_, o, "bias", where, w->N);
    }
    const std::string act = o.Get("activation").IsString()
                                ? o.Get("activation").As<Napi::String>().Utf8Value() : "none";
    s->act = act == "relu" ? Activation::kRelu : act == "sigmoid" ? Activation::kSigmoid
             : act == "tanh" ? Activation::kTanh : Activation::kNone;
    THROW_TYPEERROR_IF(act != "none" && s->act == Activation::kNone, env_,
                       where + ": unknown activation '" + act + "'");
    // A step may opt out of int8 ('fp32'): layers `infera quantize` kept in
    // fp32, or calibration runs that quantize one layer at a time.
    const std::string sp = o.Get("precision").IsString()
                               ? o.Get("precision").As<Napi::String>().Utf8Value() : "";
    THROW_TYPEERROR_IF(!sp.empty() && sp != "fp32" && sp != "int8", env_,
                       where + ".precision must be 'fp32' or 'int8'");
    const bool int8 = plan_->precision == Precision::kInt8 && sp != "fp32";
    const bool has_q = o.Has("q") && !o.Get("q").IsUndefined();
    std::vector<int8_t> q;
    std::vector<float> scales, f32;
    if (has_q) {
      q = CopyTyped<int8_t>(env_, o, "q", where, kn);
      scales = CopyTyped<float>(env_, o, "scales", where, w->N);
    } else {
      f32 = CopyTyped<float>(env_, o, "weight", where, kn);
    }
    Status st;
    if (int8) {
      THROW_RANGEERROR_IF(w->K > quant::kI8MaxK, env_, where + ": K is too large for int8");
      if (!has_q) st = quant::QuantizeWeights({f32.data(), w->K, w->N, static_cast<size_t>(w->N), false}, &q, &scales);
      // A float copy of q for the sparse kernels where they can run (K >= 64).
      if (st.ok()) st = quant::PackI8(q.data(), scales.data(), w->K, w->N, w->alpha, &w->i8, w->K >= 64);
      w->int8 = true;
      plan_->max_kp = std::max(plan_->max_kp, w->i8.Kp);
    } else {
      if (has_q) {  // DequantizeLinear, as onnxruntime computes it: q * scale
        f32.resize(kn);
        for (size_t i = 0; i < kn; ++i) f32[i] = static_cast<float>(q[i]) * scales[i % w->N];
      }
      st = quant::PackF32({f32.data(), w->K, w->N, static_cast<size_t>(w->N), false}, &w->f32);
      for (float v : f32) w->finite = w->finite && std::isfinite(v);
    }
    if (!st.ok()) throw Napi::Error::New(env_, where + ": " + st.message());
    plan_->flops_per_row += 2.0 * w->K * w->N;
    s->gemm = std::move(w);
  }

  Napi::Env env_;
  Plan* plan_;
  std::vector<bool> defined_;
  std::set<int> used_;
};

std::string KernelOption(const Napi::Env& env, const Napi::Object& opts, const char* key) {
  if (!opts.Has(key) || opts.Get(key).IsUndefined()) return "auto";
  THROW_TYPEERROR_IF(!opts.Get(key).IsString(), env, std::string(key) + " must be a string");
  return opts.Get(key).As<Napi::String>().Utf8Value();
}

}  // namespace

std::unique_ptr<Plan> ParsePlan(const Napi::Env& env, const Napi::Object& obj,
                                const Napi::Object& options) {
  auto plan = std::make_unique<Plan>();
  const std::string precision = options.Get("precision").IsString()
      ? options.Get("precision").As<Napi::String>().Utf8Value() : "";
  THROW_TYPEERROR_IF(precision != "fp32" && precision != "int8", env,
                     "options.precision must be 'fp32' or 'int8'");
  plan->precision = precision == "int8" ? Precision::kInt8 : Precision::kFp32;
  const std::string f32 = KernelOption(env, options, "f32Kernel");
  const std::string i8 = KernelOption(env, options, "int8Kernel");
  const quant::F32Variant* fv = quant::FindF32(f32);
  const quant::I8Variant* iv = quant::FindI8(i8);
  THROW_RANGEERROR_IF(!fv, env, "options.f32Kernel: unknown or unusable variant '" + f32 + "'");
  THROW_RANGEERROR_IF(!iv, env, "options.int8Kernel: unknown or unusable variant '" + i8 + "'");
  plan->f32_kernel = *fv;
  plan->i8_kernel = *iv;
  if (options.Has("sparseInputs") && !options.Get("sparseInputs").IsUndefined()) {
    THROW_TYPEERROR_IF(!options.Get("sparseInputs").IsBoolean(), env, "options.sparseInputs must be a boolean");
    plan->sparse_inputs = options.Get("sparseInputs").As<Napi::Boolean>().Value();
  }

  Builder b(env, plan.get());
  b.Values(RequireArray(env, obj, "values", "plan"));
  b.Refs(RequireArray(env, obj, "inputs", "plan"), "plan.inputs", &plan->inputs, true);
  b.Refs(RequireArray(env, obj, "outputs", "plan"), "plan.outputs", &plan->outputs, false);
  const Napi::Array steps = RequireArray(env, obj, "steps", "plan");
  for (uint32_t i = 0; i < steps.Length(); ++i) {
    const std::string what = "plan.steps[" + std::to_string(i) + "]";
    b.StepAt(RequireObject(env, steps.Get(i), what), what);
  }
  b.Finish();
  return plan;
}

}  // namespace exec
}  // namespace infera
