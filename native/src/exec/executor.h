// Runs a Plan (plan.h) over a batch: the rows are split into chunks that run
// on the shared ThreadPool when the batch is large enough to pay for it.
// Pure C++: called from AsyncWorker::Execute() and from sync entry points.
#pragma once

#include <vector>

#include "common.h"
#include "exec/plan.h"

namespace infera {
namespace exec {

struct RunOptions {
  int max_threads = 1;  // chunks never exceed this (intra_op_threads)
  // Rows below which a batch runs on one thread; 0 = the default, from the
  // plan's flops per row (kMinFlopsPerChunk per chunk).
  int min_rows_per_chunk = 0;
};

// Work per chunk below which splitting costs more than it saves (a chunk on
// a helper costs a wake-up of ~5-20 µs; measured, see scripts/measure-kernels.ts).
constexpr double kMinFlopsPerChunk = 4.0e6;

// Chunks a batch of `rows` is split into (>= 1).
int ChunkCount(const Plan& plan, int rows, const RunOptions& opts);

// inputs[i]: rows x widths[plan.inputs[i].value] floats; outputs[i]: room for
// rows x widths[plan.outputs[i].value]. Buffers must not overlap.
Status Run(const Plan& plan, int rows, const std::vector<const float*>& inputs,
           const std::vector<float*>& outputs, const RunOptions& opts);

}  // namespace exec
}  // namespace infera
