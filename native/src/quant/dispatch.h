// Kernel selection: one table per family, ordered best first; the first
// variant that is compiled in and whose CPU requirement holds is chosen once,
// at first use (thread-safe static init), from cpu::DetectCpuFeatures().
//
//   fp32 GEMM: avx512f (reserved: not built yet) > avx2 (AVX2+FMA) > ref
//   int8 GEMM: avx512vnni (reserved) > avxvnni (AVX-VNNI) > avx2 > ref
//
// Reserved rows document where a future kernel plugs in; they have no
// function and are never selected. Tests reach every usable variant by name.
#pragma once

#include <string>
#include <vector>

#include "quant/gemm_types.h"

namespace infera {
namespace quant {

// A variant bundles the dense kernel with its sparse-input twin (same
// results; the executor picks one per batch from the input's density).
struct F32Variant {
  const char* name;
  GemmF32Fn gemm;  // nullptr: reserved, not built
  ScanRowsFn scan;
  SpmmF32Fn spmm;
};

struct I8Variant {
  const char* name;
  QuantizeRowsFn quantize;  // nullptr: reserved, not built
  Int8GemmFn gemm;
  ScanRowsFn scan;
  SpmmI8Fn spmm;
};

// The chosen variants (never null: "ref" is always usable).
const F32Variant& SelectedF32();
const I8Variant& SelectedI8();

// A usable variant by name ("ref", "avx2", ...); "auto" is the selected one.
// nullptr when unknown, reserved, or not supported by this CPU.
const F32Variant* FindF32(const std::string& name);
const I8Variant* FindI8(const std::string& name);

// Names of the usable variants, best first (for kernelInfo() and tests).
std::vector<std::string> UsableF32();
std::vector<std::string> UsableI8();

// Every table row with its state: "selected", "usable", "unsupported"
// (CPU lacks a feature) or "reserved" (no kernel built).
struct VariantState {
  std::string family;
  std::string name;
  std::string state;
};
std::vector<VariantState> DescribeVariants();

}  // namespace quant
}  // namespace infera
