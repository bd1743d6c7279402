// Histogram GBDT for binary log loss; see gbdt.h for the semantics.
//
// Layout and invariants:
//  - bins_: one uint16 per (feature, row), column-major, so building a
//    histogram reads one contiguous column per feature. A numeric feature has
//    bins 0..nb-1 (upper_[f][b] = largest training value of bin b, strictly
//    increasing) and its missing bin is nb; a categorical feature's bin is its
//    code (0..nb-1, nb = largest training code + 1) and its missing bin is nb.
//  - For a numeric feature, bin(x) <= t  <=>  x <= upper[t]: the float
//    threshold reproduces the bin test exactly on float32 inputs.
//  - The rows of a leaf are a contiguous range of rows_ (in-bag rows, kept in
//    ascending order by stable partitions), so every sum runs in a fixed order:
//    the same inputs and seed give the same model bit for bit.
//
// Threads (Params::num_threads): work is split only where the split does not
// change a single floating-point operation, so one thread and the whole pool
// give the same model bit for bit:
//  - a histogram is built one feature per task, each in row order;
//  - per-row work (gradients, score updates, partitions) runs in fixed blocks
//    of kRowBlock rows, and a sum over rows (the training loss) adds the
//    blocks' partial sums in block order, whatever thread computed them;
//  - binning runs one feature per task.
// Measured (bench/tools/gbdt-train.ts, 3M rows): before this, the per-row tree
// walk to update scores and a second sigmoid for the loss were a third of an
// iteration; scores of in-bag rows now come from the leaf they were
// partitioned into, and the loss from the gradient pass's sigmoid.
#include "gbdt/gbdt.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "exec/thread_pool.h"

namespace infera {
namespace gbdt {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
// The smallest improvement taken as a split (guards against rounding noise).
constexpr double kMinGain = 1e-12;
constexpr double kProbClamp = 1e-15;
constexpr uint32_t kMaxCode = 65534;  // codes and bins are uint16; nb itself is the missing bin
// Row blocks of per-row work. Fixed (not derived from the thread count) so that
// block sums combine in the same order on any machine.
constexpr size_t kRowBlock = 16384;
// Below this many (row, feature) cells a histogram is built on one thread: a
// pool hand-off costs more than it saves.
constexpr size_t kMinParallelCells = 1 << 16;

// Gradient and hessian of one row, side by side (one cache line read per row).
struct GradHess {
  double g = 0, h = 0;
};

struct Bin {
  double g = 0, h = 0;
  uint32_t c = 0;
};

struct Sums {
  double g = 0, h = 0;
  uint32_t c = 0;
};

struct Split {
  double gain = kNegInf;
  int feature = -1;
  int bin = -1;            // numeric: bins 0..bin go left
  bool default_left = false;
  bool categorical = false;
  std::vector<int> cats;   // categorical: bins (codes) going left, ascending
  Sums left;               // of the rows going left (from the histogram)
};

struct Leaf {
  size_t begin = 0, end = 0;  // range of rows_
  int node = 0;
  int depth = 0;
  Sums sums;
  std::vector<Bin> hist;
  Split best;
};

// splitmix64: small, fast, and the same sequence on every platform.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed ^ 0x9e3779b97f4a7c15ull) {}
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
};

double Sigmoid(double z) {
  return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z));
}

double LogLoss(const std::vector<double>& score, const uint8_t* y) {
  double s = 0;
  for (size_t i = 0; i < score.size(); ++i) {
    const double p = std::min(std::max(Sigmoid(score[i]), kProbClamp), 1 - kProbClamp);
    s -= y[i] ? std::log(p) : std::log(1 - p);
  }
  return score.empty() ? 0 : s / static_cast<double>(score.size());
}

// Mann-Whitney AUC with tied scores given their average rank.
double Auc(const std::vector<double>& score, const uint8_t* y) {
  const size_t n = score.size();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return score[a] < score[b]; });
  double pos = 0, rank_sum = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    uint32_t tied_pos = 0;
    while (j < n && score[order[j]] == score[order[i]]) tied_pos += y[order[j++]];
    rank_sum += tied_pos * (static_cast<double>(i + 1 + j) / 2);  // ranks i+1..j
    pos += tied_pos;
    i = j;
  }
  const double neg = static_cast<double>(n) - pos;
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

bool CodeIn(float x, const int32_t* begin, const int32_t* end) {
  if (!(x >= 0) || x != std::floor(x) || x > static_cast<float>(kMaxCode)) return false;
  return std::binary_search(begin, end, static_cast<int32_t>(x));
}

double TreeOutput(const Tree& t, const float* row) {
  int n = 0;
  while (t.feature[n] >= 0) {
    const float x = row[t.feature[n]];
    bool left;
    if (t.categorical[n]) {
      left = CodeIn(x, t.cat_codes.data() + t.cat_begin[n], t.cat_codes.data() + t.cat_begin[n + 1]);
    } else {
      left = std::isnan(x) ? t.default_left[n] != 0 : x <= t.threshold[n];
    }
    n = left ? t.left[n] : t.right[n];
  }
  return t.value[n];
}

class Trainer {
 public:
  Trainer(const Matrix& x, const uint8_t* y, const Params& p) : x_(x), y_(y), p_(p) {}

  Status Quantize(const std::vector<int>& categorical) {
    const size_t d = x_.cols;
    is_cat_.assign(d, 0);
    for (int c : categorical) {
      if (c < 0 || static_cast<size_t>(c) >= d) return Status::Error("categorical column " + std::to_string(c) + " is outside 0.." + std::to_string(d - 1));
      is_cat_[c] = 1;
    }
    nb_.assign(d, 0);
    upper_.assign(d, {});
    bins_.assign(x_.rows * d, 0);
    std::vector<Status> status(d, Status::Ok());
    ParallelFor(static_cast<int>(d), [&](int f) { status[f] = QuantizeFeature(f); });
    for (const Status& st : status) {
      if (!st.ok()) return st;  // the first failing column, in column order
    }
    offset_.assign(d + 1, 0);
    for (size_t f = 0; f < d; ++f) offset_[f + 1] = offset_[f] + nb_[f] + 1;
    return Status::Ok();
  }

  void Run(const Matrix& valid, const uint8_t* valid_y, Model* model) {
    const size_t n = x_.rows, d = x_.cols;
    double pos = 0;
    for (size_t i = 0; i < n; ++i) pos += y_[i];
    const double base = std::min(std::max(pos / static_cast<double>(n), 1e-6), 1 - 1e-6);
    model->init_score = std::log(base / (1 - base));
    model->feature_gain.assign(d, 0);
    std::vector<double> score(n, model->init_score), vscore(valid.rows, model->init_score);
    gh_.resize(n);
    ordered_.resize(n);
    scratch_.resize(n);
    rows_.reserve(n);
    Rng rng(p_.seed);
    std::vector<int> features(d);
    double best_metric = 0;
    int best = -1;
    for (int it = 0; it < p_.num_iterations; ++it) {
      // Gradients of the current scores; their log loss is the previous tree's.
      const double loss = Gradients(score);
      if (it > 0) model->train_loss.push_back(loss);
      // Bag: each row independently with probability bagging_fraction.
      rows_.clear();
      oob_.clear();
      for (size_t i = 0; i < n; ++i) {
        if (p_.bagging_fraction >= 1 || rng.Uniform() < p_.bagging_fraction) rows_.push_back(static_cast<uint32_t>(i));
        else oob_.push_back(static_cast<uint32_t>(i));
      }
      // Columns of this tree: a partial Fisher-Yates draw, then ascending.
      std::iota(features.begin(), features.end(), 0);
      const size_t k = std::max<size_t>(1, static_cast<size_t>(std::ceil(p_.feature_fraction * static_cast<double>(d))));
      if (k < d) {
        for (size_t i = 0; i < k; ++i) std::swap(features[i], features[i + rng.Next() % (d - i)]);
      }
      selected_.assign(features.begin(), features.begin() + std::min(k, d));
      std::sort(selected_.begin(), selected_.end());

      Tree tree = Grow(model);
      UpdateScores(tree, &score);
      ForBlocks(0, valid.rows, [&](int, size_t lo, size_t hi) {
        for (size_t i = lo; i < hi; ++i) vscore[i] += TreeOutput(tree, valid.data + i * valid.cols);
      });
      model->trees.push_back(std::move(tree));
      if (valid.rows == 0) continue;
      const double vloss = LogLoss(vscore, valid_y);
      const double auc = Auc(vscore, valid_y);
      model->valid_loss.push_back(vloss);
      model->valid_auc.push_back(auc);
      const double metric = p_.metric_auc ? auc : -vloss;  // higher is better
      if (best < 0 || metric > best_metric) {
        best = it;
        best_metric = metric;
      }
      if (p_.early_stopping_rounds > 0 && it - best >= p_.early_stopping_rounds) break;
    }
    model->train_loss.push_back(Gradients(score));  // the last tree's
    // Keep the best validation iteration (all of them without early stopping).
    if (p_.early_stopping_rounds > 0 && best >= 0) model->trees.resize(best + 1);
    model->best_iteration = static_cast<int>(model->trees.size()) - 1;
  }

 private:
  void ParallelFor(int n, const std::function<void(int)>& fn) const {
    if (p_.num_threads == 1 || n <= 1) {
      for (int i = 0; i < n; ++i) fn(i);
      return;
    }
    exec::ThreadPool::Instance().ParallelFor(n, fn);
  }

  static int Blocks(size_t rows) { return static_cast<int>((rows + kRowBlock - 1) / kRowBlock); }

  // fn(b, lo, hi) for the fixed row blocks [lo, hi) of [begin, end), block b
  // starting at begin + b * kRowBlock; blocks run on the pool (see ParallelFor).
  void ForBlocks(size_t begin, size_t end, const std::function<void(int, size_t, size_t)>& fn) const {
    ParallelFor(Blocks(end - begin), [&](int b) {
      const size_t lo = begin + static_cast<size_t>(b) * kRowBlock;
      fn(b, lo, std::min(end, lo + kRowBlock));
    });
  }

  // Bins of column f (see the layout invariants at the top).
  Status QuantizeFeature(size_t f) {
    const size_t n = x_.rows, d = x_.cols;
    uint16_t* col = bins_.data() + f * n;
    if (is_cat_[f]) {
      uint32_t max_code = 0;
      for (size_t r = 0; r < n; ++r) {
        const float c = x_.data[r * d + f];
        if (std::isnan(c)) continue;
        if (!(c >= 0) || c != std::floor(c) || c > static_cast<float>(kMaxCode)) {
          return Status::Error("categorical column " + std::to_string(f) + " row " + std::to_string(r) + ": " + std::to_string(c) + " is not an integer code in 0.." + std::to_string(kMaxCode));
        }
        max_code = std::max(max_code, static_cast<uint32_t>(c));
      }
      nb_[f] = static_cast<int>(max_code) + 1;
      for (size_t r = 0; r < n; ++r) {
        const float c = x_.data[r * d + f];
        col[r] = static_cast<uint16_t>(std::isnan(c) ? nb_[f] : static_cast<int>(c));
      }
      return Status::Ok();
    }
    std::vector<float> v;
    v.reserve(n);
    for (size_t r = 0; r < n; ++r) {
      const float a = x_.data[r * d + f];
      if (!std::isnan(a)) v.push_back(a);
    }
    std::sort(v.begin(), v.end());
    upper_[f] = QuantileUppers(v);
    const std::vector<float>& up = upper_[f];
    nb_[f] = static_cast<int>(up.size());
    for (size_t r = 0; r < n; ++r) {
      const float a = x_.data[r * d + f];
      if (std::isnan(a)) {
        col[r] = static_cast<uint16_t>(nb_[f]);
        continue;
      }
      const size_t b = std::lower_bound(up.begin(), up.end(), a) - up.begin();
      col[r] = static_cast<uint16_t>(std::min(b, up.size() - 1));
    }
    return Status::Ok();
  }

  // gh_ from the scores; returns the mean log loss of those scores (block
  // partial sums added in block order, so any thread count gives the same sum).
  double Gradients(const std::vector<double>& score) {
    const size_t n = score.size();
    std::vector<double> partial(Blocks(n), 0.0);
    ForBlocks(0, n, [&](int b, size_t lo, size_t hi) {
      double s = 0;
      for (size_t i = lo; i < hi; ++i) {
        const double q = Sigmoid(score[i]);
        gh_[i].g = q - y_[i];
        gh_[i].h = std::max(q * (1 - q), 1e-16);
        const double p = std::min(std::max(q, kProbClamp), 1 - kProbClamp);
        s -= y_[i] ? std::log(p) : std::log(1 - p);
      }
      partial[b] = s;
    });
    double s = 0;
    for (double v : partial) s += v;
    return n == 0 ? 0 : s / static_cast<double>(n);
  }

  // score += the tree's output: an in-bag row gets the value of the leaf it was
  // partitioned into (the same leaf a walk reaches), an out-of-bag row walks.
  void UpdateScores(const Tree& tree, std::vector<double>* score) const {
    double* sc = score->data();
    ParallelFor(static_cast<int>(leaf_ranges_.size()), [&](int l) {
      const LeafRange& lr = leaf_ranges_[l];
      const double v = tree.value[lr.node];
      for (size_t i = lr.begin; i < lr.end; ++i) sc[rows_[i]] += v;
    });
    ForBlocks(0, oob_.size(), [&](int, size_t lo, size_t hi) {
      for (size_t i = lo; i < hi; ++i) sc[oob_[i]] += BinnedOutput(tree, oob_[i]);
    });
  }

  // Bin uppers of sorted non-missing values: one bin per distinct value when
  // they fit in max_bins, otherwise greedy quantiles (a bin closes once it
  // holds its share of the remaining rows; a heavy value gets its own bin).
  std::vector<float> QuantileUppers(const std::vector<float>& v) const {
    std::vector<float> distinct;
    std::vector<size_t> count;
    for (float a : v) {
      if (distinct.empty() || a != distinct.back()) {
        distinct.push_back(a);
        count.push_back(0);
      }
      ++count.back();
    }
    if (distinct.empty()) return {0.0f};
    if (distinct.size() <= static_cast<size_t>(p_.max_bins)) return distinct;
    std::vector<float> up;
    double remaining = static_cast<double>(v.size());
    int bins_left = p_.max_bins;
    double cur = 0;
    for (size_t i = 0; i < distinct.size(); ++i) {
      cur += static_cast<double>(count[i]);
      if (cur >= remaining / bins_left || i + 1 == distinct.size()) {
        up.push_back(distinct[i]);
        remaining -= cur;
        cur = 0;
        if (--bins_left == 0) bins_left = 1;  // unreachable: the last bin takes the rest
      }
    }
    return up;
  }

  double BinnedOutput(const Tree& t, size_t row) const {
    const size_t n = x_.rows;
    int node = 0;
    while (t.feature[node] >= 0) {
      const int f = t.feature[node];
      const int b = bins_[f * n + row];
      bool left;
      if (t.categorical[node]) {
        left = b < nb_[f] && std::binary_search(t.cat_codes.data() + t.cat_begin[node], t.cat_codes.data() + t.cat_begin[node + 1], b);
      } else {
        left = b == nb_[f] ? t.default_left[node] != 0 : x_.data[row * x_.cols + f] <= t.threshold[node];
      }
      node = left ? t.left[node] : t.right[node];
    }
    return t.value[node];
  }

  Sums SumRows(size_t begin, size_t end) const {
    Sums s;
    for (size_t i = begin; i < end; ++i) {
      s.g += gh_[rows_[i]].g;
      s.h += gh_[rows_[i]].h;
    }
    s.c = static_cast<uint32_t>(end - begin);
    return s;
  }

  // The leaf's histogram over this tree's features. Its rows' gradients are
  // first gathered in row order (ordered_), so each feature's pass reads them
  // sequentially; then one feature per task, each in row order.
  void BuildHist(Leaf* leaf) {
    leaf->hist.assign(offset_.back(), Bin{});
    const size_t n = x_.rows, len = leaf->end - leaf->begin;
    const uint32_t* rows = rows_.data() + leaf->begin;
    GradHess* og = ordered_.data();
    ForBlocks(0, len, [&](int, size_t lo, size_t hi) {
      for (size_t i = lo; i < hi; ++i) og[i] = gh_[rows[i]];
    });
    auto one = [&](int k) {
      const int f = selected_[k];
      const uint16_t* col = bins_.data() + f * n;
      Bin* h = leaf->hist.data() + offset_[f];
      for (size_t i = 0; i < len; ++i) {
        Bin& bin = h[col[rows[i]]];
        bin.g += og[i].g;
        bin.h += og[i].h;
        ++bin.c;
      }
    };
    if (len * selected_.size() >= kMinParallelCells) {
      ParallelFor(static_cast<int>(selected_.size()), one);
    } else {
      for (size_t k = 0; k < selected_.size(); ++k) one(static_cast<int>(k));
    }
  }

  // Stable partition of rows_[begin, end) by the split: left rows first, each
  // side in its original order; returns where the right rows start. Each block
  // writes its left rows forward from its start in scratch_ and its right rows
  // backward from its end; then every block moves both to their places. The
  // side of every bin (missing bin included) is looked up, not recomputed:
  // GoesLeft per row was a fifth of the training time (3M rows, perf).
  size_t Partition(const Split& s, size_t begin, size_t end) {
    const size_t len = end - begin;
    const int blocks = Blocks(len);
    std::vector<uint8_t> left_bin(nb_[s.feature] + 1);
    for (int b = 0; b <= nb_[s.feature]; ++b) left_bin[b] = SideOfBin(s, b) ? 1 : 0;
    const uint16_t* col = bins_.data() + static_cast<size_t>(s.feature) * x_.rows;
    std::vector<size_t> lefts(blocks);
    ForBlocks(begin, end, [&](int b, size_t lo, size_t hi) {
      size_t l = lo, r = hi;
      for (size_t i = lo; i < hi; ++i) {
        const uint32_t row = rows_[i];
        if (left_bin[col[row]]) scratch_[l++] = row;
        else scratch_[--r] = row;
      }
      lefts[b] = l - lo;
    });
    std::vector<size_t> lpos(blocks), rpos(blocks);
    size_t mid = begin;
    for (int b = 0; b < blocks; ++b) {
      lpos[b] = mid;
      mid += lefts[b];
    }
    size_t right = mid;
    for (int b = 0; b < blocks; ++b) {
      rpos[b] = right;
      const size_t lo = begin + static_cast<size_t>(b) * kRowBlock;
      right += std::min(end, lo + kRowBlock) - lo - lefts[b];
    }
    ForBlocks(begin, end, [&](int b, size_t lo, size_t hi) {
      std::copy(scratch_.begin() + lo, scratch_.begin() + lo + lefts[b], rows_.begin() + lpos[b]);
      const size_t nr = hi - lo - lefts[b];
      for (size_t k = 0; k < nr; ++k) rows_[rpos[b] + k] = scratch_[hi - 1 - k];
    });
    return mid;
  }

  double Score(double g, double h, double l2) const { return g * g / (h + l2); }

  bool Allowed(const Sums& l, const Sums& r) const {
    return l.c >= static_cast<uint32_t>(p_.min_data_in_leaf) && r.c >= static_cast<uint32_t>(p_.min_data_in_leaf) &&
           l.h >= p_.min_sum_hessian && r.h >= p_.min_sum_hessian;
  }

  void FindSplit(Leaf* leaf) const {
    leaf->best = Split{};
    if (p_.max_depth > 0 && leaf->depth >= p_.max_depth) return;
    if (leaf->sums.c < 2u * static_cast<uint32_t>(p_.min_data_in_leaf)) return;
    const Sums& tot = leaf->sums;
    for (int f : selected_) {
      const struct Bin* h = leaf->hist.data() + offset_[f];
      if (is_cat_[f]) {
        CategoricalSplit(f, h, tot, &leaf->best);
      } else {
        NumericSplit(f, h, tot, &leaf->best);
      }
    }
  }

  void NumericSplit(int f, const struct Bin* h, const Sums& tot, Split* best) const {
    const int nb = nb_[f];
    const struct Bin& miss = h[nb];
    const double l2 = p_.lambda_l2;
    const double parent = Score(tot.g, tot.h, l2);
    // Missing rows try both sides when there are any; otherwise they follow
    // the larger child at prediction time.
    for (int miss_left = 0; miss_left <= (miss.c > 0 ? 1 : 0); ++miss_left) {
      Sums l;
      if (miss_left) l = {miss.g, miss.h, miss.c};
      for (int t = 0; t + 1 < nb; ++t) {
        l.g += h[t].g;
        l.h += h[t].h;
        l.c += h[t].c;
        const Sums r{tot.g - l.g, tot.h - l.h, tot.c - l.c};
        if (!Allowed(l, r)) continue;
        const double gain = Score(l.g, l.h, l2) + Score(r.g, r.h, l2) - parent;
        if (gain > best->gain && gain > kMinGain) {
          best->gain = gain;
          best->feature = f;
          best->bin = t;
          best->categorical = false;
          best->default_left = miss.c > 0 ? miss_left == 1 : l.c >= r.c;
          best->cats.clear();
          best->left = l;
        }
      }
    }
  }

  // LightGBM's many-vs-many split: categories with enough rows, sorted by
  // g / (h + cat_smooth); a prefix of that order (from either end, at most
  // max_cat_threshold categories) goes left; rare categories and missing rows
  // stay right.
  void CategoricalSplit(int f, const struct Bin* h, const Sums& tot, Split* best) const {
    const int nb = nb_[f];
    std::vector<int> used;
    for (int b = 0; b < nb; ++b) {
      if (h[b].c >= static_cast<uint32_t>(std::max(1, p_.min_data_per_group))) used.push_back(b);
    }
    if (used.empty()) return;
    auto ratio = [&](int b) { return h[b].g / (h[b].h + p_.cat_smooth); };
    std::stable_sort(used.begin(), used.end(), [&](int a, int b) { return ratio(a) < ratio(b); });
    const double l2 = p_.lambda_l2 + p_.cat_l2;
    const double parent = Score(tot.g, tot.h, l2);
    const int max_k = std::min<int>(p_.max_cat_threshold, static_cast<int>(used.size()));
    for (int dir = 0; dir < 2; ++dir) {
      Sums l;
      for (int k = 0; k < max_k; ++k) {
        const int b = dir == 0 ? used[k] : used[used.size() - 1 - k];
        l.g += h[b].g;
        l.h += h[b].h;
        l.c += h[b].c;
        const Sums r{tot.g - l.g, tot.h - l.h, tot.c - l.c};
        if (!Allowed(l, r)) continue;
        const double gain = Score(l.g, l.h, l2) + Score(r.g, r.h, l2) - parent;
        if (gain > best->gain && gain > kMinGain) {
          best->gain = gain;
          best->feature = f;
          best->bin = -1;
          best->categorical = true;
          best->default_left = false;
          best->cats.assign(dir == 0 ? used.begin() : used.end() - (k + 1), dir == 0 ? used.begin() + (k + 1) : used.end());
          std::sort(best->cats.begin(), best->cats.end());
          best->left = l;
        }
      }
    }
  }

  // Whether rows in bin b go left under split s (see the layout invariants).
  bool SideOfBin(const Split& s, int b) const {
    if (s.categorical) return b < nb_[s.feature] && std::binary_search(s.cats.begin(), s.cats.end(), b);
    return b == nb_[s.feature] ? s.default_left : b <= s.bin;
  }

  int AddNode(Tree* t, uint32_t count) const {
    t->feature.push_back(-1);
    t->threshold.push_back(0);
    t->left.push_back(-1);
    t->right.push_back(-1);
    t->default_left.push_back(0);
    t->categorical.push_back(0);
    t->value.push_back(0);
    t->count.push_back(count);
    return static_cast<int>(t->feature.size()) - 1;
  }

  Tree Grow(Model* model) {
    Tree t;
    std::vector<Leaf> leaves(1);
    Leaf& root = leaves[0];
    root.begin = 0;
    root.end = rows_.size();
    root.sums = SumRows(0, rows_.size());
    root.node = AddNode(&t, root.sums.c);
    BuildHist(&root);
    FindSplit(&root);
    std::vector<std::vector<int>> node_cats(1);
    while (static_cast<int>(leaves.size()) < p_.max_leaves) {
      int pick = -1;
      for (size_t i = 0; i < leaves.size(); ++i) {
        if (leaves[i].best.feature >= 0 && (pick < 0 || leaves[i].best.gain > leaves[pick].best.gain)) pick = static_cast<int>(i);
      }
      if (pick < 0) break;
      Leaf parent = std::move(leaves[pick]);
      const Split& s = parent.best;
      const size_t mid = Partition(s, parent.begin, parent.end);
      Leaf l, r;
      l.begin = parent.begin;
      l.end = mid;
      r.begin = mid;
      r.end = parent.end;
      l.depth = r.depth = parent.depth + 1;
      // Child sums from the split's histogram prefix (no pass over the rows).
      l.sums = {s.left.g, s.left.h, static_cast<uint32_t>(mid - parent.begin)};
      r.sums = {parent.sums.g - s.left.g, parent.sums.h - s.left.h, static_cast<uint32_t>(parent.end - mid)};
      // The internal node.
      const int node = parent.node;
      t.feature[node] = s.feature;
      t.categorical[node] = s.categorical ? 1 : 0;
      t.default_left[node] = s.default_left ? 1 : 0;
      if (!s.categorical) t.threshold[node] = upper_[s.feature][s.bin];
      node_cats[node] = s.cats;
      l.node = AddNode(&t, l.sums.c);
      r.node = AddNode(&t, r.sums.c);
      node_cats.resize(t.feature.size());
      t.left[node] = l.node;
      t.right[node] = r.node;
      model->feature_gain[s.feature] += s.gain;
      // Histograms: build the smaller child, the larger is parent - smaller.
      Leaf& small = l.sums.c <= r.sums.c ? l : r;
      Leaf& large = l.sums.c <= r.sums.c ? r : l;
      BuildHist(&small);
      large.hist = std::move(parent.hist);
      for (size_t i = 0; i < large.hist.size(); ++i) {
        large.hist[i].g -= small.hist[i].g;
        large.hist[i].h -= small.hist[i].h;
        large.hist[i].c -= small.hist[i].c;
      }
      FindSplit(&l);
      FindSplit(&r);
      leaves[pick] = std::move(l);
      leaves.push_back(std::move(r));
    }
    leaf_ranges_.clear();
    for (const Leaf& leaf : leaves) {
      t.value[leaf.node] = -leaf.sums.g / (leaf.sums.h + p_.lambda_l2) * p_.learning_rate;
      leaf_ranges_.push_back({leaf.begin, leaf.end, leaf.node});
    }
    // Category sets, flattened in node order.
    t.cat_begin.assign(t.feature.size() + 1, 0);
    for (size_t i = 0; i < t.feature.size(); ++i) {
      t.cat_begin[i + 1] = t.cat_begin[i] + static_cast<uint32_t>(node_cats[i].size());
      t.cat_codes.insert(t.cat_codes.end(), node_cats[i].begin(), node_cats[i].end());
    }
    return t;
  }

  const Matrix& x_;
  const uint8_t* y_;
  const Params& p_;
  std::vector<uint8_t> is_cat_;
  std::vector<int> nb_;
  std::vector<std::vector<float>> upper_;
  std::vector<uint16_t> bins_;
  std::vector<size_t> offset_;
  std::vector<GradHess> gh_;        // per training row
  std::vector<GradHess> ordered_;   // a leaf's rows' gh_, in its row order (BuildHist)
  std::vector<uint32_t> rows_;      // in-bag rows, grouped by leaf (see the invariants)
  std::vector<uint32_t> oob_;       // out-of-bag rows of this iteration, ascending
  std::vector<uint32_t> scratch_;   // Partition's blocks
  struct LeafRange {
    size_t begin, end;
    int node;
  };
  std::vector<LeafRange> leaf_ranges_;  // the last grown tree's leaves
  std::vector<int> selected_;
};

}  // namespace

Status Train(const Matrix& x, const uint8_t* y, const std::vector<int>& categorical,
             const Matrix& valid, const uint8_t* valid_y, const Params& p,
             Model* model) {
  if (x.rows == 0 || x.cols == 0) return Status::Error("no training rows or no columns");
  if (valid.rows > 0 && valid.cols != x.cols) return Status::Error("validation has " + std::to_string(valid.cols) + " columns, training " + std::to_string(x.cols));
  if (p.max_bins < 2 || p.max_bins > 255) return Status::Error("max_bins must be in 2..255");
  if (p.max_leaves < 2) return Status::Error("max_leaves must be at least 2");
  if (p.min_data_in_leaf < 1) return Status::Error("min_data_in_leaf must be at least 1");
  if (!(p.bagging_fraction > 0 && p.bagging_fraction <= 1)) return Status::Error("bagging_fraction must be in (0, 1]");
  if (!(p.feature_fraction > 0 && p.feature_fraction <= 1)) return Status::Error("feature_fraction must be in (0, 1]");
  if (p.early_stopping_rounds > 0 && valid.rows == 0) return Status::Error("early stopping needs a validation set");
  for (size_t i = 0; i < x.rows; ++i) {
    if (y[i] > 1) return Status::Error("label of row " + std::to_string(i) + " is " + std::to_string(y[i]) + ", expected 0 or 1");
  }
  for (size_t i = 0; i < valid.rows; ++i) {
    if (valid_y[i] > 1) return Status::Error("validation label of row " + std::to_string(i) + " is not 0 or 1");
  }
  Trainer trainer(x, y, p);
  Status s = trainer.Quantize(categorical);
  if (!s.ok()) return s;
  trainer.Run(valid, valid_y, model);
  return Status::Ok();
}

double PredictRaw(const Model& model, const float* row) {
  double s = model.init_score;
  for (const Tree& t : model.trees) s += TreeOutput(t, row);
  return s;
}

void PredictRawRows(const Model& model, const float* x, size_t rows, size_t cols, double* out) {
  // Tree-major within a block of rows, so one tree's nodes stay in cache while the block
  // walks it. Row by row over every tree missed cache on most nodes: ~0.6 µs a tree a row
  // with 999 trees of 63 leaves (perf: all of a pipeline's month evaluations in TreeOutput).
  // Each row still adds init, tree 0, tree 1, ... in that order: the same sums as PredictRaw.
  constexpr size_t kBlock = 512;
  const int blocks = static_cast<int>((rows + kBlock - 1) / kBlock);
  exec::ThreadPool::Instance().ParallelFor(blocks, [&](int b) {
    const size_t lo = static_cast<size_t>(b) * kBlock, hi = std::min(rows, lo + kBlock);
    for (size_t r = lo; r < hi; ++r) out[r] = model.init_score;
    for (const Tree& t : model.trees) {
      for (size_t r = lo; r < hi; ++r) out[r] += TreeOutput(t, x + r * cols);
    }
  });
}

}  // namespace gbdt
}  // namespace infera
