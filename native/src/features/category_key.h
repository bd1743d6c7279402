// Category helpers shared by the CPU transform and the GPU input preparation:
// the normalized key of a string cell and cross_hour's FNV-1a, over UTF-16
// code units exactly as src/features/transform.ts computes them.
#pragma once

#include <cstdint>
#include <string>

#include "features/feature_plan.h"
#include "features/iso_time.h"

namespace infera {
namespace features {

// The normalized category of row r; false when only TypeScript can compute
// it (trim_upper of non-ASCII text: Unicode case mapping).
inline bool NormalizedKey(const Column& c, int32_t r, Normalize how, std::u16string* key) {
  const char16_t* b = c.At(r);
  const char16_t* e = b + c.Length(r);
  if (how == Normalize::kNone) {
    key->assign(b, e);
    return true;
  }
  TrimJs(&b, &e);
  key->clear();
  for (const char16_t* p = b; p < e; ++p) {
    char16_t ch = *p;
    if (ch >= 0x80) return false;
    if (ch >= u'a' && ch <= u'z') ch = static_cast<char16_t>(ch - 32);
    key->push_back(ch);
  }
  return true;
}

// fnv1a(`${key}|${slot}`) over UTF-16 code units.
inline uint32_t Fnv1a(const std::u16string& key, int64_t slot) {
  uint32_t h = 0x811c9dc5u;
  auto mix = [&h](char16_t unit) {
    h ^= unit;
    h *= 0x01000193u;
  };
  for (char16_t unit : key) mix(unit);
  mix(u'|');
  for (char d : std::to_string(slot)) mix(static_cast<char16_t>(d));
  return h;
}

}  // namespace features
}  // namespace infera
