// N-API entry points of the GBDT trainer (see gbdt.h for the algorithm):
//   gbdtTrainSync(x, rows, cols, y, options)  -> model object (trees, curves)
//   gbdtPredictSync(model, x, rows, cols)      -> Float64Array of raw scores
// Training runs on the calling thread: it is a batch job (the pipeline, the
// bench), never on a serving path; the served model is the ONNX export.
#pragma once

#define INFERA_NAPI
#include "../common.h"

namespace infera {
namespace gbdt {

Napi::Value GbdtTrainSync(const Napi::CallbackInfo& info);
Napi::Value GbdtPredictSync(const Napi::CallbackInfo& info);

}  // namespace gbdt
}  // namespace infera
