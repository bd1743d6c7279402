// cpuid/xgetbv based feature detection (see cpu_features.h).
#include "cpu_features.h"

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || \
    defined(_M_IX86)
#define INFERA_X86 1
#if defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace infera {
namespace cpu {
namespace {

#ifdef INFERA_X86
struct Regs {
  uint32_t eax, ebx, ecx, edx;
};

Regs Cpuid(uint32_t leaf, uint32_t subleaf) {
  Regs r{};
#if defined(_MSC_VER)
  int v[4];
  __cpuidex(v, static_cast<int>(leaf), static_cast<int>(subleaf));
  r = {static_cast<uint32_t>(v[0]), static_cast<uint32_t>(v[1]),
       static_cast<uint32_t>(v[2]), static_cast<uint32_t>(v[3])};
#else
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}

// XCR0: which register states the OS saves on context switch.
// Only valid when CPUID.1:ECX.OSXSAVE is set.
uint64_t ReadXcr0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  uint32_t lo = 0, hi = 0;
  // Raw opcode form of `xgetbv` so no -mxsave is needed.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
#endif
}

inline bool Bit(uint32_t reg, int bit) { return ((reg >> bit) & 1u) != 0; }
#endif  // INFERA_X86

}  // namespace

CpuFeatures DetectCpuFeatures() {
  CpuFeatures f;
#ifdef INFERA_X86
  const uint32_t max_leaf = Cpuid(0, 0).eax;
  if (max_leaf < 1) return f;
  const Regs l1 = Cpuid(1, 0);
  // AVX-family instructions need OSXSAVE + AVX and the OS saving XMM|YMM.
  if (!Bit(l1.ecx, 27) || !Bit(l1.ecx, 28)) return f;
  const uint64_t xcr0 = ReadXcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;            // SSE | AVX
  const bool zmm_state = ymm_state && (xcr0 & 0xE0) == 0xE0;  // k | ZMM
  if (!ymm_state) return f;
  f.fma = Bit(l1.ecx, 12);
  if (max_leaf < 7) return f;
  const Regs l7 = Cpuid(7, 0);
  f.avx2 = Bit(l7.ebx, 5);
  f.avx512f = zmm_state && Bit(l7.ebx, 16);
  f.avx512vnni = f.avx512f && Bit(l7.ecx, 11);
  if (l7.eax >= 1) {  // sub-leaf 1 exists
    f.avxvnni = Bit(Cpuid(7, 1).eax, 4);
  }
#endif
  return f;
}

}  // namespace cpu
}  // namespace infera
