// Batch assembly core (see axis_copy.h for the layout model).
#include "axis_copy.h"

#include <cstring>

namespace infera {
namespace batch {

void ConcatAxis(const std::vector<ConstBytes>& parts, size_t outer,
                const std::vector<size_t>& inner, uint8_t* out) {
  const size_t n = parts.size();
  if (outer == 1) {
    // Axis 0: one contiguous block per part.
    for (size_t i = 0; i < n; ++i) {
      if (inner[i] == 0) continue;  // memcpy with a null pointer is UB
      std::memcpy(out, parts[i].data, inner[i]);
      out += inner[i];
    }
    return;
  }
  // Row-interleaved copy; the destination is written strictly sequentially,
  // which keeps the output stream friendly to the hardware prefetcher.
  for (size_t r = 0; r < outer; ++r) {
    for (size_t i = 0; i < n; ++i) {
      const size_t len = inner[i];
      if (len == 0) continue;
      std::memcpy(out, parts[i].data + r * len, len);
      out += len;
    }
  }
}

void SliceAxis(const uint8_t* whole, size_t outer,
               const std::vector<size_t>& inner,
               const std::vector<uint8_t*>& outs) {
  const size_t n = outs.size();
  if (outer == 1) {
    for (size_t i = 0; i < n; ++i) {
      if (inner[i] == 0) continue;
      std::memcpy(outs[i], whole, inner[i]);
      whole += inner[i];
    }
    return;
  }
  // Source is read sequentially; each output is written sequentially too.
  for (size_t r = 0; r < outer; ++r) {
    for (size_t i = 0; i < n; ++i) {
      const size_t len = inner[i];
      if (len == 0) continue;
      std::memcpy(outs[i] + r * len, whole, len);
      whole += len;
    }
  }
}

}  // namespace batch
}  // namespace infera
