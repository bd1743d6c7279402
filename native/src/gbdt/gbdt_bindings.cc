// N-API glue for the GBDT trainer: guards on the JS thread, then the pure C++
// core (gbdt.cc). A model crosses the boundary as plain typed arrays per tree,
// so JS can export it (ONNX), store it, and hand it back to gbdtPredictSync.
#include "gbdt/gbdt_bindings.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "gbdt/gbdt.h"
#include "typed_args.h"

namespace infera {
namespace gbdt {
namespace {

// A float32 matrix argument of rows x cols.
Matrix RequireMatrix(const Napi::Env& env, const Napi::Value& data, const Napi::Value& rows,
                     const Napi::Value& cols, const std::string& what) {
  Matrix m;
  m.rows = GetSizeArg(env, rows, what + ".rows");
  m.cols = GetSizeArg(env, cols, what + ".cols");
  uint64_t n = 0;
  THROW_RANGEERROR_IF(!CheckedMul(m.rows, m.cols, &n), env, what + ": rows * cols overflows");
  m.data = RequireTyped<float>(env, data, what, static_cast<size_t>(n)).Data();
  return m;
}

int IntOption(const Napi::Env& env, const Napi::Object& o, const char* key, int fallback, int lo, int hi) {
  const double v = GetFiniteOption(env, o, key, fallback);
  THROW_RANGEERROR_IF(v != std::floor(v) || v < lo || v > hi, env,
                      std::string(key) + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(v);
}

double NonNegOption(const Napi::Env& env, const Napi::Object& o, const char* key, double fallback) {
  const double v = GetFiniteOption(env, o, key, fallback);
  THROW_RANGEERROR_IF(v < 0, env, std::string(key) + " must be >= 0");
  return v;
}

Params ParseParams(const Napi::Env& env, const Napi::Object& o) {
  Params p;
  p.num_iterations = IntOption(env, o, "num_iterations", p.num_iterations, 1, 100000);
  p.learning_rate = GetFiniteOption(env, o, "learning_rate", p.learning_rate);
  THROW_RANGEERROR_IF(!(p.learning_rate > 0), env, "learning_rate must be > 0");
  p.max_leaves = IntOption(env, o, "max_leaves", p.max_leaves, 2, 1 << 16);
  p.max_depth = IntOption(env, o, "max_depth", p.max_depth, 0, 64);
  p.min_data_in_leaf = IntOption(env, o, "min_data_in_leaf", p.min_data_in_leaf, 1, 1 << 30);
  p.min_sum_hessian = NonNegOption(env, o, "min_sum_hessian", p.min_sum_hessian);
  p.lambda_l2 = NonNegOption(env, o, "lambda_l2", p.lambda_l2);
  p.max_bins = IntOption(env, o, "max_bins", p.max_bins, 2, 255);
  p.bagging_fraction = GetFiniteOption(env, o, "bagging_fraction", p.bagging_fraction);
  p.feature_fraction = GetFiniteOption(env, o, "feature_fraction", p.feature_fraction);
  // The seed is a uint32 from JS (the pipeline's seeds are 0..2^32-1).
  const double seed = GetFiniteOption(env, o, "seed", 0);
  THROW_RANGEERROR_IF(seed != std::floor(seed) || seed < 0 || seed > 4294967295.0, env, "seed must be an integer in 0..4294967295");
  p.seed = static_cast<uint64_t>(seed);
  p.max_cat_threshold = IntOption(env, o, "max_cat_threshold", p.max_cat_threshold, 1, 65535);
  p.cat_smooth = NonNegOption(env, o, "cat_smooth", p.cat_smooth);
  p.cat_l2 = NonNegOption(env, o, "cat_l2", p.cat_l2);
  p.min_data_per_group = IntOption(env, o, "min_data_per_group", p.min_data_per_group, 1, 1 << 30);
  p.early_stopping_rounds = IntOption(env, o, "early_stopping_rounds", 0, 0, 100000);
  p.num_threads = IntOption(env, o, "num_threads", p.num_threads, 0, 1);
  if (o.Has("metric") && !o.Get("metric").IsUndefined()) {
    const Napi::Value m = o.Get("metric");
    THROW_TYPEERROR_IF(!m.IsString(), env, "metric must be 'logloss' or 'auc'");
    const std::string s = m.As<Napi::String>().Utf8Value();
    THROW_RANGEERROR_IF(s != "logloss" && s != "auc", env, "metric must be 'logloss' or 'auc', got '" + s + "'");
    p.metric_auc = s == "auc";
  }
  return p;
}

template <typename T, typename A>
A Copy(const Napi::Env& env, const std::vector<T>& v) {
  A a = A::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

Napi::Object TreeToJs(const Napi::Env& env, const Tree& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("feature", Copy<int32_t, Napi::Int32Array>(env, t.feature));
  o.Set("threshold", Copy<float, Napi::Float32Array>(env, t.threshold));
  o.Set("left", Copy<int32_t, Napi::Int32Array>(env, t.left));
  o.Set("right", Copy<int32_t, Napi::Int32Array>(env, t.right));
  o.Set("defaultLeft", Copy<uint8_t, Napi::Uint8Array>(env, t.default_left));
  o.Set("categorical", Copy<uint8_t, Napi::Uint8Array>(env, t.categorical));
  o.Set("catBegin", Copy<uint32_t, Napi::Uint32Array>(env, t.cat_begin));
  o.Set("catCodes", Copy<int32_t, Napi::Int32Array>(env, t.cat_codes));
  o.Set("value", Copy<double, Napi::Float64Array>(env, t.value));
  o.Set("count", Copy<uint32_t, Napi::Uint32Array>(env, t.count));
  return o;
}

template <typename T>
std::vector<T> ToVector(const Napi::Env& env, const Napi::Object& o, const char* key, size_t expected) {
  Napi::TypedArrayOf<T> a = RequireTyped<T>(env, o.Get(key), std::string("tree.") + key, expected);
  return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
}

// A tree from JS, checked so that PredictRaw cannot read out of bounds or loop.
Tree TreeFromJs(const Napi::Env& env, const Napi::Value& v, size_t cols) {
  THROW_TYPEERROR_IF(!v.IsObject(), env, "model.trees[i] must be an object");
  const Napi::Object o = v.As<Napi::Object>();
  Tree t;
  t.feature = ToVector<int32_t>(env, o, "feature", kAnyLength);
  const size_t n = t.feature.size();
  THROW_RANGEERROR_IF(n == 0, env, "a tree has no nodes");
  t.threshold = ToVector<float>(env, o, "threshold", n);
  t.left = ToVector<int32_t>(env, o, "left", n);
  t.right = ToVector<int32_t>(env, o, "right", n);
  t.default_left = ToVector<uint8_t>(env, o, "defaultLeft", n);
  t.categorical = ToVector<uint8_t>(env, o, "categorical", n);
  t.cat_begin = ToVector<uint32_t>(env, o, "catBegin", n + 1);
  t.cat_codes = ToVector<int32_t>(env, o, "catCodes", kAnyLength);
  t.value = ToVector<double>(env, o, "value", n);
  THROW_RANGEERROR_IF(t.cat_begin[0] != 0 || t.cat_begin[n] != t.cat_codes.size(), env, "tree.catBegin does not cover catCodes");
  for (size_t i = 0; i < n; ++i) {
    THROW_RANGEERROR_IF(t.cat_begin[i + 1] < t.cat_begin[i], env, "tree.catBegin must be non-decreasing");
    if (t.feature[i] < 0) continue;
    THROW_RANGEERROR_IF(static_cast<size_t>(t.feature[i]) >= cols, env, "tree.feature[" + std::to_string(i) + "] is outside the columns");
    // Children come after their parent (the trainer's order), so a walk ends.
    THROW_RANGEERROR_IF(t.left[i] <= static_cast<int32_t>(i) || t.right[i] <= static_cast<int32_t>(i) ||
                            static_cast<size_t>(t.left[i]) >= n || static_cast<size_t>(t.right[i]) >= n,
                        env, "tree node " + std::to_string(i) + " has children out of order or range");
  }
  return t;
}

}  // namespace

Napi::Value GbdtTrainSync(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 4, env, "gbdtTrainSync(x, rows, cols, y, options) expects at least 4 arguments");
  const Matrix x = RequireMatrix(env, info[0], info[1], info[2], "x");
  const uint8_t* y = RequireTyped<uint8_t>(env, info[3], "y", x.rows).Data();
  const Napi::Object o = GetOptions(info, 4);
  const Params p = ParseParams(env, o);
  std::vector<int> categorical;
  if (o.Has("categorical") && !o.Get("categorical").IsUndefined()) {
    THROW_TYPEERROR_IF(!o.Get("categorical").IsArray(), env, "categorical must be an array of column indices");
    const Napi::Array a = o.Get("categorical").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      categorical.push_back(GetIntArg(env, a.Get(i), "categorical[" + std::to_string(i) + "]"));
    }
  }
  Matrix valid;
  const uint8_t* valid_y = nullptr;
  if (o.Has("valid") && !o.Get("valid").IsUndefined()) {
    THROW_TYPEERROR_IF(!o.Get("valid").IsObject(), env, "valid must be {x, rows, y}");
    const Napi::Object v = o.Get("valid").As<Napi::Object>();
    valid = RequireMatrix(env, v.Get("x"), v.Get("rows"), Napi::Number::New(env, static_cast<double>(x.cols)), "valid.x");
    valid_y = RequireTyped<uint8_t>(env, v.Get("y"), "valid.y", valid.rows).Data();
  }
  Model model;
  const Status s = Train(x, y, categorical, valid, valid_y, p, &model);
  THROW_RANGEERROR_IF(!s.ok(), env, "gbdtTrainSync: " + s.message());
  Napi::Object out = Napi::Object::New(env);
  out.Set("initScore", Napi::Number::New(env, model.init_score));
  Napi::Array trees = Napi::Array::New(env, model.trees.size());
  for (size_t i = 0; i < model.trees.size(); ++i) trees.Set(static_cast<uint32_t>(i), TreeToJs(env, model.trees[i]));
  out.Set("trees", trees);
  out.Set("trainLoss", Copy<double, Napi::Float64Array>(env, model.train_loss));
  out.Set("validLoss", Copy<double, Napi::Float64Array>(env, model.valid_loss));
  out.Set("validAuc", Copy<double, Napi::Float64Array>(env, model.valid_auc));
  out.Set("bestIteration", Napi::Number::New(env, model.best_iteration));
  out.Set("featureGain", Copy<double, Napi::Float64Array>(env, model.feature_gain));
  return out;
}

Napi::Value GbdtPredictSync(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  THROW_TYPEERROR_IF(info.Length() < 4, env, "gbdtPredictSync(model, x, rows, cols) expects 4 arguments");
  THROW_TYPEERROR_IF(!info[0].IsObject(), env, "model must be an object");
  const Napi::Object m = info[0].As<Napi::Object>();
  const Matrix x = RequireMatrix(env, info[1], info[2], info[3], "x");
  Model model;
  const Napi::Value init = m.Get("initScore");
  THROW_TYPEERROR_IF(!init.IsNumber(), env, "model.initScore must be a number");
  model.init_score = init.As<Napi::Number>().DoubleValue();
  THROW_TYPEERROR_IF(!m.Get("trees").IsArray(), env, "model.trees must be an array");
  const Napi::Array trees = m.Get("trees").As<Napi::Array>();
  for (uint32_t i = 0; i < trees.Length(); ++i) model.trees.push_back(TreeFromJs(env, trees.Get(i), x.cols));
  Napi::Float64Array out = Napi::Float64Array::New(env, x.rows);
  PredictRawRows(model, x.data, x.rows, x.cols, out.Data());
  return out;
}

}  // namespace gbdt
}  // namespace infera
