// Native batched feature transform: columns -> one float32 tensor
// [rows x width], equal to src/features/transform.ts (see feature_plan.h for
// how sin/cos stay bit-identical). Pure C++: runs inside AsyncWorkers and is
// split into row chunks on the shared exec::ThreadPool above a size threshold.
//
// What is left to TypeScript (the caller re-runs those rows there, so the
// result is exact by construction):
//  - invalid values (non-finite numbers, bad timestamps, blank strings):
//    `invalid` is set and the caller runs the TypeScript transform, which
//    throws its own message naming the field and row;
//  - trim_upper categories with non-ASCII text (Unicode case mapping):
//    their rows are listed in `fallback_rows` and left zero here.
#pragma once

#include <cstdint>
#include <vector>

#include "features/feature_plan.h"

namespace infera {
namespace features {

struct TransformOutcome {
  bool invalid = false;
  std::vector<int32_t> fallback_rows;  // ascending
  double unknown = 0;                  // unknown categories, fallback rows excluded
};

// Rows [r0, r1) of `columns` (one per plan field) into out (rows x width,
// zero-filled by the caller; row r at out + r * width).
TransformOutcome TransformRows(const FeaturePlan& plan, const std::vector<Column>& columns,
                               int32_t r0, int32_t r1, float* out);

// Rows below which a batch is transformed on one thread (measured:
// scripts/measure-kernels.ts; a helper wake-up costs ~5-20 µs).
constexpr int32_t kFeatureParallelMinRows = 2048;

// The whole batch, split over up to `max_threads` chunks when rows allow;
// with zero_first each chunk clears its rows of `out` first (a reused buffer).
TransformOutcome TransformBatch(const FeaturePlan& plan, const std::vector<Column>& columns,
                                int32_t rows, int max_threads, float* out, bool zero_first);

}  // namespace features
}  // namespace infera
