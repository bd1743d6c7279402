// Runtime CPU feature detection (cpuid + xgetbv) for choosing SIMD kernels.
//
// A feature is reported only when both the CPU advertises it and the OS saves
// the register state it needs (XCR0: YMM for AVX2/FMA/AVX-VNNI; opmask+ZMM for
// AVX-512). On non-x86 targets every flag is false.
// This file is compiled without -mavx2/-mfma: detection must run everywhere.
#pragma once

namespace infera {
namespace cpu {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512vnni = false;
  bool avxvnni = false;  // AVX-VNNI (VEX encoded, 256-bit)
};

// Queries the CPU once per call; cheap (a handful of cpuid instructions).
CpuFeatures DetectCpuFeatures();

}  // namespace cpu
}  // namespace infera
