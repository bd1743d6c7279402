// Builds a Plan (plan.h) from the JS plan object that src/native/graph-plan.ts
// compiles, checking everything again on the C++ side (ids, widths, SSA
// order, array types and lengths) and packing every weight for the chosen
// precision. Runs on the JS thread; throws JS errors naming the step.
//
// plan:  { values: number[] (width per value id),
//          inputs: [{name, value}], outputs: [{name, value}],
//          steps: [{ op, name, input, output, ... }] }
//   op 'gemm':      K, N, alpha, weight?: Float32Array [K x N] |
//                   q?: Int8Array [K x N] + scales?: Float32Array [N],
//                   bias?: Float32Array [N], activation?: relu|sigmoid|tanh,
//                   precision?: 'fp32' (stays fp32 in an int8 model) | 'int8'
//   op 'add_const': constant: Float32Array (width or 1)
//   op 'add':       input2
//   op 'relu' | 'sigmoid' | 'tanh' | 'copy'
//   op 'softmax':   group (softmax over consecutive groups of columns)
// options: { precision: 'fp32' | 'int8', f32Kernel?, int8Kernel? ('auto'),
//            sparseInputs = true (sparse kernels for mostly-zero inputs) }
#pragma once

#define INFERA_NAPI
#include "common.h"
#include "exec/plan.h"

namespace infera {
namespace exec {

std::unique_ptr<Plan> ParsePlan(const Napi::Env& env, const Napi::Object& plan,
                                const Napi::Object& options);

}  // namespace exec
}  // namespace infera
