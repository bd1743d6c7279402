// N-API glue of the native feature transform (contract in feature_bindings.h).
#include "features/feature_bindings.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "cuda/cuda_ops.h"
#include "features/feature_gpu.h"
#include "features/feature_transform.h"
#include "typed_args.h"

namespace infera {
namespace features {
namespace {

using PlanPtr = std::shared_ptr<const FeaturePlan>;
const napi_type_tag kPlanTag = {0x4f1e2d3c5b6a7980ULL, 0x1a2b3c4d5e6f7081ULL};
constexpr uint64_t kMaxRows = 1u << 26;

std::u16string Utf16(const Napi::Env& env, const Napi::Value& v, const std::string& what) {
  THROW_TYPEERROR_IF(!v.IsString(), env, what + " must be a string");
  size_t len = 0;
  napi_get_value_string_utf16(env, v, nullptr, 0, &len);
  std::u16string s(len, u'\0');
  napi_get_value_string_utf16(env, v, s.data(), len + 1, &len);
  return s;
}

std::string Str(const Napi::Env& env, const Napi::Object& o, const char* key, const std::string& what) {
  THROW_TYPEERROR_IF(!o.Get(key).IsString(), env, what + "." + key + " must be a string");
  return o.Get(key).As<Napi::String>().Utf8Value();
}

double Num(const Napi::Env& env, const Napi::Object& o, const char* key, const std::string& what) {
  const Napi::Value v = o.Get(key);
  THROW_TYPEERROR_IF(!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue()), env,
                     what + "." + key + " must be a finite number");
  return v.As<Napi::Number>().DoubleValue();
}

void ParseBlock(const Napi::Env& env, const Napi::Object& o, const std::string& w, FeaturePlan* plan) {
  Block b;
  const std::string kind = Str(env, o, "kind", w);
  const int fields = static_cast<int>(plan->fields.size());
  b.input = GetIntArg(env, o.Get("input"), w + ".input");
  THROW_RANGEERROR_IF(b.input >= fields, env, w + ".input is not a field index");
  b.offset = GetIntArg(env, o.Get("offset"), w + ".offset");
  auto need = [&](int cols) {
    THROW_RANGEERROR_IF(b.offset + cols > plan->width, env, w + ": columns past the width");
  };
  auto field = [&](int f, FieldType t, const char* what) {
    THROW_TYPEERROR_IF(plan->fields[f] != t, env, w + ": " + what);
  };
  if (kind == "numeric") {
    field(b.input, FieldType::kNumber, "numeric input must be a number field");
    need(1);
    b.kind = BlockKind::kNumeric;
    const std::string t = Str(env, o, "transform", w);
    THROW_TYPEERROR_IF(t != "identity" && t != "log1p", env, w + ".transform must be identity or log1p");
    b.log1p = t == "log1p";
    b.mean = Num(env, o, "mean", w);
    b.std = Num(env, o, "std", w);
    b.clip = Num(env, o, "clip", w);
  } else if (kind == "cyclic" || kind == "time_onehot") {
    field(b.input, FieldType::kTimestamp, "time input must be a timestamp field");
    b.kind = kind == "cyclic" ? BlockKind::kCyclic : BlockKind::kTimeOneHot;
    const std::string unit = Str(env, o, "unit", w);
    THROW_TYPEERROR_IF(unit != "hour_of_day" && unit != "day_of_week", env, w + ".unit is unknown");
    b.unit = unit == "hour_of_day" ? TimeUnit::kHourOfDay : TimeUnit::kDayOfWeek;
    need(kind == "cyclic" ? 2 : (unit == "hour_of_day" ? 24 : 7));
  } else if (kind == "categorical" || kind == "cross_hour") {
    field(b.input, FieldType::kString, "categorical input must be a string field");
    const std::string norm = Str(env, o, "normalize", w);
    THROW_TYPEERROR_IF(norm != "none" && norm != "trim_upper", env, w + ".normalize is unknown");
    b.normalize = norm == "none" ? Normalize::kNone : Normalize::kTrimUpper;
    if (kind == "categorical") {
      b.kind = BlockKind::kCategorical;
      THROW_TYPEERROR_IF(!o.Get("vocabulary").IsArray(), env, w + ".vocabulary must be an array");
      const Napi::Array v = o.Get("vocabulary").As<Napi::Array>();
      for (uint32_t i = 0; i < v.Length(); ++i) {
        b.vocabulary.emplace(Utf16(env, v.Get(i), w + ".vocabulary[" + std::to_string(i) + "]"), static_cast<int32_t>(i));
      }
      b.unknown_index = static_cast<int32_t>(v.Length());
      need(b.unknown_index + 1);
    } else {
      b.kind = BlockKind::kCrossHour;
      b.time_input = GetIntArg(env, o.Get("timeInput"), w + ".timeInput");
      THROW_RANGEERROR_IF(b.time_input >= fields, env, w + ".timeInput is not a field index");
      field(b.time_input, FieldType::kTimestamp, "cross_hour time input must be a timestamp field");
      b.hours_per_slot = Num(env, o, "hoursPerSlot", w);
      THROW_RANGEERROR_IF(!(b.hours_per_slot > 0), env, w + ".hoursPerSlot must be > 0");
      b.buckets = static_cast<uint32_t>(GetIntArg(env, o.Get("buckets"), w + ".buckets"));
      THROW_RANGEERROR_IF(b.buckets == 0, env, w + ".buckets must be at least 1");
      need(static_cast<int>(b.buckets));
    }
  } else {
    throw Napi::TypeError::New(env, w + ": unknown block kind '" + kind + "'");
  }
  plan->blocks.push_back(std::move(b));
}

PlanPtr RequirePlan(const Napi::Env& env, const Napi::Value& v) {
  THROW_TYPEERROR_IF(!v.IsExternal() || !v.As<Napi::External<PlanPtr>>().CheckTypeTag(&kPlanTag),
                     env, "handle must be a feature plan created by compileFeatureSpec");
  return *v.As<Napi::External<PlanPtr>>().Data();
}

// transformRowSync's answers besides an unknown-category count (>= 0).
constexpr int kRowInvalid = -1;  // a missing or invalid value
constexpr int kRowNeedsJs = -2;  // trim_upper of non-ASCII text (Unicode case mapping)

// Validated transform arguments; strings copied, number arrays pinned.
struct Batch {
  PlanPtr plan;
  int32_t rows = 0;
  float* out = nullptr;  // caller's Float32Array (zeroed here), or null: allocate
  std::vector<Column> columns;
  std::vector<std::u16string> texts;
  std::vector<Napi::Object> handles;
};

Batch ParseBatch(const Napi::CallbackInfo& info, const char* fn) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 3, env, std::string(fn) + "(handle, columns, rows) expects 3 arguments");
  Batch b;
  b.plan = RequirePlan(env, info[0]);
  b.rows = GetIntArg(env, info[2], "rows", kMaxRows);
  THROW_TYPEERROR_IF(!info[1].IsArray(), env, "columns must be an array");
  const Napi::Array cols = info[1].As<Napi::Array>();
  const FeaturePlan& plan = *b.plan;
  THROW_TYPEERROR_IF(cols.Length() != plan.fields.size(), env,
                     "columns has " + std::to_string(cols.Length()) + " entries, the spec has " +
                         std::to_string(plan.fields.size()) + " inputs");
  b.columns.resize(plan.fields.size());
  b.texts.resize(plan.fields.size());
  for (uint32_t i = 0; i < cols.Length(); ++i) {
    const std::string w = "column '" + plan.names[i] + "'";
    const Napi::Value v = cols.Get(i);
    if (v.IsTypedArray()) {
      THROW_TYPEERROR_IF(plan.fields[i] == FieldType::kString, env, w + " must be strings");
      const auto a = RequireTyped<double>(env, v, w, b.rows);
      b.columns[i].numbers = a.Data();
      b.handles.push_back(a);
      continue;
    }
    THROW_TYPEERROR_IF(!v.IsObject() || plan.fields[i] == FieldType::kNumber, env,
                       w + " must be a Float64Array" + (plan.fields[i] == FieldType::kNumber ? "" : " or { text, lengths }"));
    const Napi::Object o = v.As<Napi::Object>();
    b.texts[i] = Utf16(env, o.Get("text"), w + ".text");
    const auto lengths = RequireTyped<int32_t>(env, o.Get("lengths"), w + ".lengths", b.rows);
    Column& c = b.columns[i];
    c.starts.resize(static_cast<size_t>(b.rows) + 1, 0);
    for (int32_t r = 0; r < b.rows; ++r) {
      THROW_RANGEERROR_IF(lengths.Data()[r] < 0, env, w + ".lengths must be non-negative");
      c.starts[r + 1] = c.starts[r] + static_cast<size_t>(lengths.Data()[r]);
    }
    THROW_RANGEERROR_IF(c.starts[b.rows] != b.texts[i].size(), env,
                        w + ".lengths sum to " + std::to_string(c.starts[b.rows]) + ", the text has " +
                            std::to_string(b.texts[i].size()) + " UTF-16 units");
    c.text = b.texts[i].data();
  }
  return b;
}

// An optional reusable output (argument `at`): rows x width floats.
void ParseOut(const Napi::CallbackInfo& info, size_t at, Batch* b) {
  if (info.Length() <= at || info[at].IsUndefined() || info[at].IsNull()) return;
  auto out = RequireTyped<float>(info.Env(), info[at], "out",
                                 static_cast<size_t>(b->rows) * b->plan->width);
  b->out = out.Data();
  b->handles.push_back(out);
}

// Gives an async batch its output: the caller's (true) or a new zeroed
// Float32Array allocated here, on the JS thread, by V8 — measured far cheaper
// than calloc'ing megabytes on a pool thread and adopting them as external
// memory (fresh pages, freed only at GC).
bool EnsureOut(Napi::Env env, Batch* b) {
  if (b->out) return true;
  Napi::Float32Array a = Napi::Float32Array::New(env, static_cast<size_t>(b->rows) * b->plan->width);
  b->out = a.Data();
  b->handles.push_back(a);
  return false;
}

Napi::Object Result(Napi::Env env, Napi::Float32Array data, const TransformOutcome& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", data);
  out.Set("unknown", r.unknown);
  Napi::Int32Array fb = Napi::Int32Array::New(env, r.fallback_rows.size());
  std::copy(r.fallback_rows.begin(), r.fallback_rows.end(), fb.Data());
  out.Set("fallbackRows", fb);
  out.Set("invalid", r.invalid);
  return out;
}

// threads == 0: the GPU path (host preparation here, the tensor on the device).
class TransformWorker : public Napi::AsyncWorker {
 public:
  // reuse: batch.out is the caller's buffer (cleared chunk by chunk), else a
  // fresh zeroed array made on the JS thread.
  TransformWorker(Napi::Env env, Batch batch, int threads, bool reuse)
      : Napi::AsyncWorker(env, "infera:transformFeatures"),
        deferred_(Napi::Promise::Deferred::New(env)), batch_(std::move(batch)), threads_(threads),
        reuse_(reuse) {
    for (const Napi::Object& o : batch_.handles) pins_.push_back(Napi::Persistent(o));
    batch_.handles.clear();
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    float* out = batch_.out;  // always set: see TransformFeaturesAsync
    if (threads_ > 0) {
      result_ = TransformBatch(*batch_.plan, batch_.columns, batch_.rows, threads_, out, reuse_);
      return;
    }
    GpuInputs in;  // the device writes every element, zeros included
    result_ = PrepareGpuInputs(*batch_.plan, batch_.columns, batch_.rows, &in);
    if (result_.invalid) return;
    const Status st = cuda::FeaturesDevice(in.batch, out);
    if (!st.ok()) SetError(st.message());
  }
  void OnOK() override {  // the output array is the last pin
    deferred_.Resolve(Result(Env(), pins_.back().Value().As<Napi::Float32Array>(), result_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Batch batch_;
  int threads_;
  bool reuse_;
  std::vector<Napi::ObjectReference> pins_;
  TransformOutcome result_;
};

}  // namespace

Napi::Value CompileFeatureSpec(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsObject(), env, "compileFeatureSpec(plan) expects a plan object");
  const Napi::Object o = info[0].As<Napi::Object>();
  auto plan = std::make_shared<FeaturePlan>();
  plan->width = GetIntArg(env, o.Get("width"), "plan.width", 1u << 24);
  THROW_TYPEERROR_IF(!o.Get("fields").IsArray() || !o.Get("blocks").IsArray(), env, "plan.fields and plan.blocks must be arrays");
  const Napi::Array fields = o.Get("fields").As<Napi::Array>();
  for (uint32_t i = 0; i < fields.Length(); ++i) {
    const std::string w = "plan.fields[" + std::to_string(i) + "]";
    THROW_TYPEERROR_IF(!fields.Get(i).IsObject(), env, w + " must be an object");
    const Napi::Object f = fields.Get(i).As<Napi::Object>();
    plan->names.push_back(Str(env, f, "name", w));
    const std::string t = Str(env, f, "type", w);
    THROW_TYPEERROR_IF(t != "number" && t != "timestamp" && t != "string", env, w + ".type is unknown");
    plan->fields.push_back(t == "number" ? FieldType::kNumber : t == "timestamp" ? FieldType::kTimestamp : FieldType::kString);
  }
  const Napi::Array blocks = o.Get("blocks").As<Napi::Array>();
  for (uint32_t i = 0; i < blocks.Length(); ++i) {
    const std::string w = "plan.blocks[" + std::to_string(i) + "]";
    THROW_TYPEERROR_IF(!blocks.Get(i).IsObject(), env, w + " must be an object");
    ParseBlock(env, blocks.Get(i).As<Napi::Object>(), w, plan.get());
  }
  const auto hour = RequireTyped<float>(env, o.Get("hourTable"), "plan.hourTable", 1440 * 2);
  const auto week = RequireTyped<float>(env, o.Get("weekTable"), "plan.weekTable", 10080 * 2);
  plan->hour_table.assign(hour.Data(), hour.Data() + hour.ElementLength());
  plan->week_table.assign(week.Data(), week.Data() + week.ElementLength());
  auto* holder = new PlanPtr(std::move(plan));
  Napi::External<PlanPtr> ext = Napi::External<PlanPtr>::New(env, holder, [](Napi::Env, PlanPtr* p) { delete p; });
  ext.TypeTag(&kPlanTag);
  return ext;
}

Napi::Value TransformFeaturesAsync(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Batch batch = ParseBatch(info, "transformFeatures");
  ParseOut(info, 4, &batch);
  const int threads = info.Length() > 3 && !info[3].IsUndefined() ? GetIntArg(env, info[3], "threads", 256) : 1;
  THROW_RANGEERROR_IF(threads < 1, env, "threads must be at least 1");
  const bool reuse = EnsureOut(env, &batch);
  auto* worker = new TransformWorker(env, std::move(batch), threads, reuse);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value CudaTransformFeatures(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (!cuda::UnavailableReason().empty()) {
    throw Napi::Error::New(env, "CUDA is not available: " + cuda::UnavailableReason());
  }
  Batch batch = ParseBatch(info, "cudaTransformFeatures");
  EnsureOut(env, &batch);
  auto* worker = new TransformWorker(env, std::move(batch), 0, false);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value TransformFeaturesSync(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Batch batch = ParseBatch(info, "transformFeaturesSync");
  ParseOut(info, 3, &batch);
  Napi::Float32Array data;
  if (batch.out) {
    data = info[3].As<Napi::Float32Array>();
    std::fill(data.Data(), data.Data() + data.ElementLength(), 0.0f);
  } else {
    data = Napi::Float32Array::New(env, static_cast<size_t>(batch.rows) * batch.plan->width);
  }
  const TransformOutcome r = TransformRows(*batch.plan, batch.columns, 0, batch.rows, data.Data());
  return Result(env, data, r);
}

// One /predict row without building columns in JavaScript: values[i] is the
// raw value of plan field i. Measured reason (flights spec, one core, Xeon):
// marshalling one row into Float64Arrays and { text, lengths } made the
// native batch call ~6 us against ~3 us for TypeScript's validateRow +
// transform; reading the values here, validation included, is 2.6-2.7 us.
Napi::Value TransformRowSync(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 3, env, "transformRowSync(handle, values, out) expects 3 arguments");
  const PlanPtr plan = RequirePlan(env, info[0]);
  THROW_TYPEERROR_IF(!info[1].IsArray(), env, "values must be an array");
  const Napi::Array values = info[1].As<Napi::Array>();
  THROW_TYPEERROR_IF(values.Length() != plan->fields.size(), env,
                     "values has " + std::to_string(values.Length()) + " entries, the spec has " +
                         std::to_string(plan->fields.size()) + " inputs");
  auto out = RequireTyped<float>(env, info[2], "out", static_cast<size_t>(plan->width));
  const size_t n = plan->fields.size();
  std::vector<double> numbers(n, 0.0);
  std::vector<std::u16string> texts(n);
  std::vector<Column> columns(n);
  for (size_t i = 0; i < n; ++i) {
    const Napi::Value v = values.Get(static_cast<uint32_t>(i));
    const FieldType type = plan->fields[i];
    Column& c = columns[i];
    if (v.IsNumber() && type != FieldType::kString) {
      numbers[i] = v.As<Napi::Number>().DoubleValue();
      c.numbers = &numbers[i];
      continue;
    }
    // Anything else the field does not accept: -1, and the caller's validator names it.
    if (!v.IsString() || type == FieldType::kNumber) return Napi::Number::New(env, kRowInvalid);
    texts[i] = v.As<Napi::String>().Utf16Value();
    c.text = texts[i].data();
    c.starts = {0, texts[i].size()};
  }
  std::fill(out.Data(), out.Data() + out.ElementLength(), 0.0f);
  const TransformOutcome r = TransformRows(*plan, columns, 0, 1, out.Data());
  if (r.invalid) return Napi::Number::New(env, kRowInvalid);
  if (!r.fallback_rows.empty()) return Napi::Number::New(env, kRowNeedsJs);
  return Napi::Number::New(env, static_cast<double>(r.unknown));
}

}  // namespace features
}  // namespace infera
