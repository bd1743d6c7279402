/**
 * The GBDT trainer in C++ (native/src/gbdt/): histogram-based gradient boosting for binary
 * log loss. Typed access to the raw exports; src/pipeline/gbdt.ts is the API the pipeline
 * and the tests use. The addon is loaded by binding.ts.
 */

/** One tree as flat per-node arrays (root = 0; leaves have feature -1). */
export interface GbdtTree {
  feature: Int32Array;
  /** Numeric nodes: x <= threshold goes left (float32, a training value). */
  threshold: Float32Array;
  left: Int32Array;
  right: Int32Array;
  /** Numeric nodes: 1 when a missing value (NaN) goes left. */
  defaultLeft: Uint8Array;
  /** 1: category-set node (codes catCodes[catBegin[i] .. catBegin[i+1]) go left, the rest and NaN right). */
  categorical: Uint8Array;
  catBegin: Uint32Array;
  catCodes: Int32Array;
  /** Leaf values (learning rate applied); 0 on internal nodes. */
  value: Float64Array;
  /** In-bag training rows that reached the node. */
  count: Uint32Array;
}

/** What the trainer returns. */
export interface GbdtTrained {
  /** Logit of the training base rate: the score before the first tree. */
  initScore: number;
  trees: GbdtTree[];
  /** Log loss on every training row after each iteration. */
  trainLoss: Float64Array;
  /** Validation log loss and AUC after each iteration (empty without a validation set). */
  validLoss: Float64Array;
  validAuc: Float64Array;
  /** 0-based iteration kept (trees.length - 1). */
  bestIteration: number;
  /** Total split gain per column. */
  featureGain: Float64Array;
}

/** Trainer options (LightGBM's names where there is one). */
export interface GbdtOptions {
  num_iterations?: number;
  learning_rate?: number;
  max_leaves?: number;
  /** 0: unlimited. */
  max_depth?: number;
  min_data_in_leaf?: number;
  min_sum_hessian?: number;
  lambda_l2?: number;
  /** Numeric features: at most this many quantile bins (≤ 255). */
  max_bins?: number;
  /** Rows drawn per iteration (each row independently). */
  bagging_fraction?: number;
  /** Columns drawn per tree. */
  feature_fraction?: number;
  seed?: number;
  max_cat_threshold?: number;
  cat_smooth?: number;
  cat_l2?: number;
  min_data_per_group?: number;
  /** Stop when the validation metric has not improved for this many iterations; keep the best. */
  early_stopping_rounds?: number;
  metric?: 'logloss' | 'auc';
  /** 0 (default): the addon's compute pool, every core; 1: the calling thread only. The trees do not depend on it. */
  num_threads?: number;
}

/** Raw addon exports of the GBDT trainer. */
export interface GbdtBinding {
  gbdtTrainSync(
    x: Float32Array, rows: number, cols: number, y: Uint8Array,
    options: GbdtOptions & { categorical?: number[]; valid?: { x: Float32Array; rows: number; y: Uint8Array } },
  ): GbdtTrained;
  gbdtPredictSync(model: { initScore: number; trees: GbdtTree[] }, x: Float32Array, rows: number, cols: number): Float64Array;
}
