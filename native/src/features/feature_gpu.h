// Host half of the GPU feature transform (device half: cuda/features.cu):
// validates a batch like TransformRows, parses ISO timestamps, and reduces
// every string block to a per-row column offset (vocabulary index or hash
// bucket), so the device only writes numbers. Pure C++.
#pragma once

#include <vector>

#include "cuda/cuda_ops.h"
#include "features/feature_transform.h"

namespace infera {
namespace features {

struct GpuInputs {
  std::vector<std::vector<double>> fields;   // per field: rows values (empty for strings)
  std::vector<std::vector<int32_t>> indices;  // per string block: rows offsets, -1 = none
  cuda::FeatureGpuBatch batch;               // points into the vectors above
};

// Fills `in` for rows [0, rows). Outcome as TransformRows (invalid, fallback
// rows, unknown count); on invalid the batch is not usable.
TransformOutcome PrepareGpuInputs(const FeaturePlan& plan, const std::vector<Column>& columns,
                                  int32_t rows, GpuInputs* in);

}  // namespace features
}  // namespace infera
