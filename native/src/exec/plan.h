// An executable MLP plan: values are 2-D row blocks [rows x width] (rows =
// the batch, widths static), steps are row-wise operators, so any contiguous
// range of rows can run independently (the executor splits batches that way).
// Built by plan_builder.cc from the plan object src/native/graph-plan.ts
// compiles out of an ONNX graph; validated there, consumed by executor.cc.
// Pure C++ (no N-API).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "quant/dispatch.h"
#include "quant/gemm_types.h"

namespace infera {
namespace exec {

enum class OpKind {
  kGemm,      // out = alpha * in · W + bias, then the epilogue activation
  kAddConst,  // out = in + constant (a row of `width` values, or one scalar)
  kAdd,       // out = in + in2 (same width)
  kRelu,
  kSigmoid,
  kTanh,
  kSoftmax,   // over consecutive groups of `group` columns of each row
  kCopy,      // out = in
};

enum class Activation { kNone, kRelu, kSigmoid, kTanh };

enum class Precision { kFp32, kInt8 };

// A packed Gemm/MatMul weight: fp32, or int8 per output channel.
struct GemmWeights {
  int K = 0;
  int N = 0;
  float alpha = 1.0f;
  bool int8 = false;
  quant::PackedF32 f32;
  quant::PackedI8 i8;
  std::vector<float> bias;  // N values (beta * C, broadcast), or empty
  // Every weight is finite: only then does skipping zero activations change
  // nothing (0 * inf is NaN in the dense kernels).
  bool finite = true;
};

struct Step {
  OpKind kind = OpKind::kCopy;
  int in = -1;
  int in2 = -1;  // kAdd only
  int out = -1;
  Activation act = Activation::kNone;  // kGemm epilogue
  std::shared_ptr<const GemmWeights> gemm;
  std::vector<float> constant;  // kAddConst: width values or 1
  int group = 0;                // kSoftmax
  std::string name;             // the ONNX node, for messages
};

struct ValueRef {
  std::string name;
  int value = -1;
};

struct Plan {
  std::vector<int> widths;  // per value
  std::vector<ValueRef> inputs;
  std::vector<ValueRef> outputs;
  std::vector<Step> steps;
  Precision precision = Precision::kFp32;
  quant::F32Variant f32_kernel{};
  quant::I8Variant i8_kernel{};
  // Gemm steps scan their input and use the sparse kernels when it is mostly
  // zeros (same results, see quant::SparseRows); off: always dense.
  bool sparse_inputs = true;
  // Scratch layout per row: float offset of each intermediate value (-1 for
  // graph inputs/outputs, which live in the caller's buffers).
  std::vector<long> scratch_offset;
  size_t scratch_floats_per_row = 0;
  int max_kp = 0;  // largest padded K of an int8 step (row quantization)
  double flops_per_row = 0;  // 2 * sum K*N, for the parallel decision
};

}  // namespace exec
}  // namespace infera
