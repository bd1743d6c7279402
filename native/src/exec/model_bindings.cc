// N-API glue of the executor (contract in model_bindings.h).
#include "exec/model_bindings.h"

#include <memory>
#include <vector>

#include "exec/executor.h"
#include "exec/plan_parse.h"
#include "typed_args.h"

namespace infera {
namespace exec {
namespace {

struct Model {
  std::unique_ptr<Plan> plan;
  RunOptions run;
};
using ModelPtr = std::shared_ptr<const Model>;

// Distinguishes our handles from any other External.
const napi_type_tag kModelTag = {0x9a1c5e0f3b7d4c21ULL, 0x8e6f2a4b1d9c3e57ULL};

constexpr uint64_t kMaxRows = 1u << 26;

ModelPtr RequireModel(const Napi::Env& env, const Napi::Value& v) {
  THROW_TYPEERROR_IF(!v.IsExternal() ||
                         !v.As<Napi::External<ModelPtr>>().CheckTypeTag(&kModelTag),
                     env, "handle must be a model created by createNativeModel");
  return *v.As<Napi::External<ModelPtr>>().Data();
}

// Validated run arguments; `pins` keep the inputs alive for async runs.
struct RunArgs {
  ModelPtr model;
  int rows = 0;
  std::vector<const float*> inputs;
  std::vector<Napi::Object> handles;
};

RunArgs ParseRun(const Napi::CallbackInfo& info, const char* fn) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 3, env,
                     std::string(fn) + "(handle, inputs, rows) expects 3 arguments");
  RunArgs a;
  a.model = RequireModel(env, info[0]);
  a.rows = GetIntArg(env, info[2], "rows", kMaxRows);
  THROW_TYPEERROR_IF(!info[1].IsArray(), env, "inputs must be an array of Float32Array");
  const Napi::Array list = info[1].As<Napi::Array>();
  const Plan& plan = *a.model->plan;
  THROW_TYPEERROR_IF(list.Length() != plan.inputs.size(), env,
                     "inputs has " + std::to_string(list.Length()) + " arrays, the model takes " +
                         std::to_string(plan.inputs.size()));
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const ValueRef& r = plan.inputs[i];
    const auto t = RequireTyped<float>(env, list.Get(i), "input '" + r.name + "'",
                                       static_cast<size_t>(a.rows) * plan.widths[r.value]);
    a.inputs.push_back(t.Data());
    a.handles.push_back(t);
  }
  return a;
}

size_t OutputFloats(const Plan& plan, size_t i, int rows) {
  return static_cast<size_t>(rows) * plan.widths[plan.outputs[i].value];
}

class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, RunArgs args)
      : Napi::AsyncWorker(env, "infera:nativeModelRun"),
        deferred_(Napi::Promise::Deferred::New(env)),
        args_(std::move(args)) {
    for (const Napi::Object& o : args_.handles) pins_.push_back(Napi::Persistent(o));
    args_.handles.clear();
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    const Plan& plan = *args_.model->plan;
    std::vector<float*> raw;
    for (size_t i = 0; i < plan.outputs.size(); ++i) {
      const size_t bytes = OutputFloats(plan, i, args_.rows) * sizeof(float);
      outs_.emplace_back(static_cast<uint8_t*>(std::malloc(bytes > 0 ? bytes : 1)));
      if (!outs_.back()) return SetError("out of memory allocating outputs");
      raw.push_back(reinterpret_cast<float*>(outs_.back().get()));
    }
    const Status st = Run(plan, args_.rows, args_.inputs, raw, args_.model->run);
    if (!st.ok()) SetError(st.message());
  }

  void OnOK() override {
    Napi::Env env = Env();
    const Plan& plan = *args_.model->plan;
    Napi::Array result = Napi::Array::New(env, outs_.size());
    for (size_t i = 0; i < outs_.size(); ++i) {
      const size_t n = OutputFloats(plan, i, args_.rows);
      Napi::ArrayBuffer ab = AdoptMallocBuffer(env, std::move(outs_[i]), n * sizeof(float));
      result.Set(static_cast<uint32_t>(i), Napi::Float32Array::New(env, n, ab, 0));
    }
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  RunArgs args_;
  std::vector<Napi::ObjectReference> pins_;
  std::vector<MallocBytes> outs_;
};

const char* OpName(OpKind k) {
  switch (k) {
    case OpKind::kGemm: return "gemm";
    case OpKind::kAddConst: return "add_const";
    case OpKind::kAdd: return "add";
    case OpKind::kRelu: return "relu";
    case OpKind::kSigmoid: return "sigmoid";
    case OpKind::kTanh: return "tanh";
    case OpKind::kSoftmax: return "softmax";
    case OpKind::kCopy: return "copy";
  }
  return "?";
}

Napi::Array Refs(Napi::Env env, const Plan& plan, const std::vector<ValueRef>& refs) {
  Napi::Array a = Napi::Array::New(env, refs.size());
  for (size_t i = 0; i < refs.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", refs[i].name);
    o.Set("width", plan.widths[refs[i].value]);
    a.Set(static_cast<uint32_t>(i), o);
  }
  return a;
}

}  // namespace

Napi::Value CreateNativeModel(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 2 || !info[0].IsObject() || info[0].IsArray(), env,
                     "createNativeModel(plan, options) expects a plan object and options");
  const Napi::Object opts = GetOptions(info, 1);
  auto model = std::make_shared<Model>();
  model->run.max_threads = opts.Has("threads") && !opts.Get("threads").IsUndefined()
      ? GetIntArg(env, opts.Get("threads"), "options.threads", 256) : 1;
  THROW_RANGEERROR_IF(model->run.max_threads < 1, env, "options.threads must be at least 1");
  model->run.min_rows_per_chunk = opts.Has("minRowsPerChunk") && !opts.Get("minRowsPerChunk").IsUndefined()
      ? GetIntArg(env, opts.Get("minRowsPerChunk"), "options.minRowsPerChunk") : 0;
  model->plan = ParsePlan(env, info[0].As<Napi::Object>(), opts);
  auto* holder = new ModelPtr(std::move(model));
  Napi::External<ModelPtr> ext = Napi::External<ModelPtr>::New(
      env, holder, [](Napi::Env, ModelPtr* p) { delete p; });
  ext.TypeTag(&kModelTag);
  return ext;
}

Napi::Value NativeModelRun(const Napi::CallbackInfo& info) {
  RunArgs args = ParseRun(info, "nativeModelRun");
  auto* worker = new RunWorker(info.Env(), std::move(args));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // deletes itself after OnOK/OnError
  return promise;
}

Napi::Value NativeModelRunSync(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  RunArgs args = ParseRun(info, "nativeModelRunSync");
  const Plan& plan = *args.model->plan;
  Napi::Array result = Napi::Array::New(env, plan.outputs.size());
  std::vector<float*> raw;
  for (size_t i = 0; i < plan.outputs.size(); ++i) {
    Napi::Float32Array out = Napi::Float32Array::New(env, OutputFloats(plan, i, args.rows));
    raw.push_back(out.Data());
    result.Set(static_cast<uint32_t>(i), out);
  }
  const Status st = Run(plan, args.rows, args.inputs, raw, args.model->run);
  if (!st.ok()) throw Napi::Error::New(env, st.message());
  return result;
}

Napi::Value NativeModelInfo(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 1, env, "nativeModelInfo(handle, rows?) expects a handle");
  const ModelPtr model = RequireModel(env, info[0]);
  const Plan& plan = *model->plan;
  Napi::Object out = Napi::Object::New(env);
  out.Set("precision", plan.precision == Precision::kInt8 ? "int8" : "fp32");
  out.Set("inputs", Refs(env, plan, plan.inputs));
  out.Set("outputs", Refs(env, plan, plan.outputs));
  Napi::Array steps = Napi::Array::New(env, plan.steps.size());
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("op", OpName(s.kind));
    o.Set("name", s.name);
    if (s.gemm) {
      o.Set("K", s.gemm->K);
      o.Set("N", s.gemm->N);
      o.Set("int8", s.gemm->int8);
    }
    steps.Set(static_cast<uint32_t>(i), o);
  }
  out.Set("steps", steps);
  Napi::Object kernels = Napi::Object::New(env);
  kernels.Set("f32", plan.f32_kernel.name);
  kernels.Set("int8", plan.i8_kernel.name);
  out.Set("kernels", kernels);
  out.Set("flopsPerRow", plan.flops_per_row);
  out.Set("threads", model->run.max_threads);
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    out.Set("chunks", ChunkCount(plan, GetIntArg(env, info[1], "rows", kMaxRows), model->run));
  }
  return out;
}

}  // namespace exec
}  // namespace infera
