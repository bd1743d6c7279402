// Batch assembly core: concatenate / split byte tensors along a batch axis.
//
// Layout model: a tensor of shape [d0 .. d(a-1), da .. dn] with the batch axis
// at `a` is viewed as `outer` rows (outer = d0*..*d(a-1)) of `inner` bytes
// (inner = da*..*dn * elementSize). Concatenating along axis `a` places, for
// every outer row r, part 0's row r, then part 1's row r, and so on.
// For axis 0, outer == 1 and this is a plain concatenation.
//
// These functions are pure C++ (no N-API) so they can run inside
// AsyncWorker::Execute(). Callers validate sizes beforehand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace infera {
namespace batch {

struct ConstBytes {
  const uint8_t* data;
  size_t size;
};

// Copies parts into `out`.
// Preconditions: parts.size() == inner.size(); parts[i].size == outer*inner[i];
// `out` has room for outer * sum(inner) bytes and does not overlap any part.
void ConcatAxis(const std::vector<ConstBytes>& parts, size_t outer,
                const std::vector<size_t>& inner, uint8_t* out);

// Inverse of ConcatAxis: splits `whole` into outs[i] (outer*inner[i] bytes).
// Preconditions: outs.size() == inner.size(); `whole` holds
// outer * sum(inner) bytes and does not overlap any output.
void SliceAxis(const uint8_t* whole, size_t outer,
               const std::vector<size_t>& inner,
               const std::vector<uint8_t*>& outs);

}  // namespace batch
}  // namespace infera
