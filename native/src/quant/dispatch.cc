// Kernel tables and start-up selection (see dispatch.h). Built without SIMD
// flags: it only compares feature bits and hands out function pointers.
#include "quant/dispatch.h"

#include "cpu/cpu_features.h"
#include "quant/kernels.h"

namespace infera {
namespace quant {
namespace {

using Features = cpu::CpuFeatures;

struct F32Row {
  F32Variant v;
  bool (*supported)(const Features&);
};
struct I8Row {
  I8Variant v;
  bool (*supported)(const Features&);
};

bool Always(const Features&) { return true; }
bool HasAvx2Fma(const Features& f) { return f.avx2 && f.fma; }
bool HasAvx512f(const Features& f) { return f.avx512f; }
bool HasAvxVnni(const Features& f) { return f.avx2 && f.fma && f.avxvnni; }
bool HasAvx512Vnni(const Features& f) { return f.avx512vnni; }

#ifdef INFERA_X86_KERNELS
const F32Row kF32[] = {
    {{"avx512f", nullptr, nullptr, nullptr}, HasAvx512f},
    {{"avx2", GemmF32Avx2, ScanRowsAvx2, SpmmF32Avx2}, HasAvx2Fma},
    {{"ref", GemmF32Ref, ScanRowsRef, SpmmF32Ref}, Always},
};
const I8Row kI8[] = {
    {{"avx512vnni", nullptr, nullptr, nullptr, nullptr}, HasAvx512Vnni},
    {{"avxvnni", QuantizeRowsAvx2, Int8GemmAvxVnni, ScanRowsAvx2, SpmmI8Avx2}, HasAvxVnni},
    {{"avx2", QuantizeRowsAvx2, Int8GemmAvx2, ScanRowsAvx2, SpmmI8Avx2}, HasAvx2Fma},
    {{"ref", QuantizeRowsRef, Int8GemmRef, ScanRowsRef, SpmmI8Ref}, Always},
};
#else
const F32Row kF32[] = {{{"ref", GemmF32Ref, ScanRowsRef, SpmmF32Ref}, Always}};
const I8Row kI8[] = {{{"ref", QuantizeRowsRef, Int8GemmRef, ScanRowsRef, SpmmI8Ref}, Always}};
#endif

const Features& Cpu() {
  static const Features f = cpu::DetectCpuFeatures();
  return f;
}

template <typename Row>
bool Usable(const Row& r) {
  return r.v.gemm != nullptr && r.supported(Cpu());
}

template <typename Row, size_t N>
const Row& First(const Row (&rows)[N]) {
  for (const Row& r : rows) {
    if (Usable(r)) return r;
  }
  return rows[N - 1];  // "ref", always usable
}

template <typename Row, size_t N>
const Row* ByName(const Row (&rows)[N], const std::string& name) {
  if (name == "auto") return &First(rows);
  for (const Row& r : rows) {
    if (name == r.v.name) return Usable(r) ? &r : nullptr;
  }
  return nullptr;
}

template <typename Row, size_t N>
std::vector<std::string> Names(const Row (&rows)[N]) {
  std::vector<std::string> out;
  for (const Row& r : rows) {
    if (Usable(r)) out.push_back(r.v.name);
  }
  return out;
}

template <typename Row, size_t N>
void Describe(const char* family, const Row (&rows)[N],
              std::vector<VariantState>* out) {
  const Row* chosen = &First(rows);
  for (const Row& r : rows) {
    const char* state = r.v.gemm == nullptr      ? "reserved"
                        : !r.supported(Cpu())    ? "unsupported"
                        : &r == chosen           ? "selected"
                                                 : "usable";
    out->push_back({family, r.v.name, state});
  }
}

}  // namespace

const F32Variant& SelectedF32() {
  static const F32Variant& v = First(kF32).v;
  return v;
}

const I8Variant& SelectedI8() {
  static const I8Variant& v = First(kI8).v;
  return v;
}

const F32Variant* FindF32(const std::string& name) {
  const F32Row* r = ByName(kF32, name);
  return r ? &r->v : nullptr;
}

const I8Variant* FindI8(const std::string& name) {
  const I8Row* r = ByName(kI8, name);
  return r ? &r->v : nullptr;
}

std::vector<std::string> UsableF32() { return Names(kF32); }
std::vector<std::string> UsableI8() { return Names(kI8); }

std::vector<VariantState> DescribeVariants() {
  std::vector<VariantState> out;
  Describe("gemmF32", kF32, &out);
  Describe("int8Gemm", kI8, &out);
  return out;
}

}  // namespace quant
}  // namespace infera
