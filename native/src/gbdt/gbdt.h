// Gradient-boosted decision trees for binary log loss, histogram based (the
// LightGBM / XGBoost `hist` algorithm): per-feature quantile bins (numeric) or
// category codes (categorical), leaf-wise growth, histogram subtraction,
// shrinkage, L2 on leaf values, bagging and feature subsampling, early
// stopping on a validation set. Pure C++ (no napi.h): gbdt_bindings.cc is the
// JS glue. Multi-threaded on the addon's compute pool (exec::ThreadPool), split
// only where the split changes no floating-point operation: the result is a
// function of the inputs and the seed only, bit for bit, on any thread count.
//
// Prediction semantics (the ONNX export and the test-side walker follow them):
//  - numeric node: x is NaN -> default side; x <= threshold -> left; else right.
//  - categorical node: x is NaN -> right; x is one of the node's codes -> left;
//    anything else (an unseen or out-of-range code) -> right.
// threshold is a float32 value of the training data (the largest value of the
// last bin going left), so `x <= threshold` on float32 inputs is exactly the
// bin test the trainer used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common.h"

namespace infera {
namespace gbdt {

struct Params {
  int num_iterations = 100;
  double learning_rate = 0.1;
  int max_leaves = 31;
  int max_depth = 0;  // 0: unlimited
  int min_data_in_leaf = 20;
  double min_sum_hessian = 1e-3;
  double lambda_l2 = 0.0;
  int max_bins = 255;
  double bagging_fraction = 1.0;  // rows drawn per iteration
  double feature_fraction = 1.0;  // columns drawn per tree
  uint64_t seed = 0;
  // Categorical splits (LightGBM's names and defaults).
  int max_cat_threshold = 32;     // most categories on the left side
  double cat_smooth = 10.0;       // ratio = sum_g / (sum_h + cat_smooth)
  double cat_l2 = 10.0;           // extra L2 when scoring a categorical split
  int min_data_per_group = 100;   // rarer categories in a node stay right
  // Early stopping on the validation set (0: off).
  int early_stopping_rounds = 0;
  bool metric_auc = false;        // false: validation log loss
  // 0: split the work over the process's compute pool (exec::ThreadPool);
  // 1: this thread only. The model is the same bit for bit either way.
  int num_threads = 0;
};

// A dense float32 row-major matrix; NaN is a missing value. Columns listed in
// `categorical` hold integer codes >= 0.
struct Matrix {
  const float* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
};

struct Tree {
  // Per node (root = 0). Leaves have feature = -1 and left = right = -1.
  std::vector<int32_t> feature;
  std::vector<float> threshold;         // numeric nodes
  std::vector<int32_t> left, right;
  std::vector<uint8_t> default_left;    // missing goes left (numeric nodes)
  std::vector<uint8_t> categorical;     // 1: category-set node
  std::vector<uint32_t> cat_begin;      // node's codes: cat_codes[cat_begin[i] .. cat_begin[i+1])
  std::vector<int32_t> cat_codes;       // sorted ascending within a node
  std::vector<double> value;            // leaf value (shrinkage applied); internal: 0
  std::vector<uint32_t> count;          // training rows (in the bag) reaching the node
};

struct Model {
  double init_score = 0;  // logit of the training base rate
  std::vector<Tree> trees;
  std::vector<double> train_loss;  // log loss on all training rows, per iteration
  std::vector<double> valid_loss;  // per iteration, when a validation set was given
  std::vector<double> valid_auc;
  int best_iteration = -1;         // 0-based; trees.size() == best_iteration + 1
  std::vector<double> feature_gain;  // total split gain per feature
};

// Trains on `x` with 0/1 labels `y`; `valid` may have rows == 0 (no early
// stopping, no validation curve). Returns an error for bad inputs.
Status Train(const Matrix& x, const uint8_t* y, const std::vector<int>& categorical,
             const Matrix& valid, const uint8_t* valid_y, const Params& params,
             Model* model);

// Raw score (logit) of one row, with the semantics described above.
double PredictRaw(const Model& model, const float* row);

// PredictRaw of `rows` rows of `cols` columns (row-major) into out[0..rows), on the
// compute pool; every value equal to PredictRaw's.
void PredictRawRows(const Model& model, const float* x, size_t rows, size_t cols, double* out);

}  // namespace gbdt
}  // namespace infera
