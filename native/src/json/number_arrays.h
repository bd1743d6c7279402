// Extraction of numeric "data" arrays from Open Inference Protocol v2 JSON.
//
// ExtractNumberArrays() validates the whole text as JSON (RFC 8259) and, for
// every object member whose key decodes to exactly "data" and whose value is
// an array (possibly nested) whose leaves are all numbers or true/false,
// parses the leaves row-major into doubles and replaces the value's text by
// its index k (arrays are numbered in document order). Arrays with any other
// leaf (string, null, object) and arrays without leaves (`[]`, `[[]]`) are
// left untouched. Everything else in the text is copied byte for byte, except
// a leading UTF-8 BOM, which is skipped. Bytes inside strings are not UTF-8
// validated here (the JS string conversion replaces invalid sequences with
// U+FFFD, like TextDecoder).
//
// Numbers are converted with std::from_chars (correctly rounded), so the
// doubles are bitwise identical to what JSON.parse produces; values beyond
// the double range become +-Infinity / +-0 like JSON.parse.
//
// Pure C++: safe to run inside AsyncWorker::Execute().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../common.h"
#include "double_buffer.h"

namespace infera {
namespace json {

struct Extraction {
  std::string json;                  // input text with arrays replaced by k
  std::vector<DoubleBuffer> arrays;  // arrays[k], flattened row-major
  std::vector<uint8_t> nested;       // 1 when arrays[k] had nested arrays
};

// Maximum nesting of arrays/objects accepted (keeps recursion bounded).
constexpr int kMaxDepth = 1024;

// On failure, Status carries a message of the form
// "malformed JSON at byte N (detail)" and offset() == N.
Status ExtractNumberArrays(const uint8_t* text, size_t len, Extraction* out);

}  // namespace json
}  // namespace infera
