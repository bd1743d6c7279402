"""LightGBM on the matrix gbdt-train.js dumped (--dump DIR): the speed anchor of the GBDT
trainer (issue: tree training at >= 0.5x LightGBM's single-thread rows/s on the same features).

    node dist/bench/tools/gbdt-train.js --from 2001-01-01 --to 2001-07-01 --dump /tmp/gbdt-year
    PYTHON bench/tools/lightgbm-anchor.py /tmp/gbdt-year [--threads 1]

PYTHON is any Python with numpy and lightgbm (not a dependency of the project; a reference
only). Same parameters as the native trainer's run: leaf-wise, 255 bins, bagging every
iteration, feature fraction per tree, L2 on leaves, the categorical columns as native
categoricals with LightGBM's defaults (which the native trainer shares), no validation set.
Times Dataset construction (binning) + training, as gbdt-train.js times binning + training.
The native trainer also computes the training log loss after every iteration; LightGBM is
asked for the same (valid_sets=[train], metric binary_logloss), so both do that work.
"""
import json
import os
import platform
import sys
import time

import numpy as np
import lightgbm as lgb


def main() -> None:
    folder = sys.argv[1]
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    meta = json.load(open(os.path.join(folder, "meta.json")))
    rows, cols = meta["rows"], meta["cols"]
    x = np.fromfile(os.path.join(folder, "x.f32"), dtype=np.float32).reshape(rows, cols)
    y = np.fromfile(os.path.join(folder, "y.u8"), dtype=np.uint8).astype(np.float32)
    p = meta["params"]
    params = {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": p["learning_rate"],
        "num_leaves": p["max_leaves"],
        "min_data_in_leaf": p["min_data_in_leaf"],
        "lambda_l2": p["lambda_l2"],
        "bagging_fraction": p["bagging_fraction"],
        "bagging_freq": 1,
        "feature_fraction": p["feature_fraction"],
        "max_bin": 255,
        "seed": p["seed"],
        "num_threads": threads,
        "verbosity": -1,
        "force_col_wise": True,
    }
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    t0 = time.perf_counter()
    train = lgb.Dataset(x, label=y, categorical_feature=meta["categorical"], free_raw_data=False)
    booster = lgb.train(params, train, num_boost_round=p["num_iterations"], valid_sets=[train], valid_names=["train"], callbacks=[lgb.record_evaluation(curve := {})])
    seconds = time.perf_counter() - t0
    iters = p["num_iterations"]
    print(f"cpu: {cpu}, {os.cpu_count()} cores; lightgbm {lgb.__version__}, {threads} thread(s)")
    print(f"lightgbm train: {rows} rows x {iters} iterations, {p['max_leaves']} leaves, {cols} columns: {seconds:.2f} s, {round(rows * iters / seconds)} row-iterations/s; final train log loss {curve['train']['binary_logloss'][-1]:.6f}; {booster.num_trees()} trees")


if __name__ == "__main__":
    main()
