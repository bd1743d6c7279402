// JSON scanner that lifts numeric "data" arrays out of the text
// (contract in number_arrays.h).
//
// Structure: a recursive-descent validator (Value/Object/Array/String/Number)
// that copies nothing while scanning; the output text is assembled lazily
// from [copied_, start-of-replaced-value) spans. A "data" member whose value
// starts with '[' is first tried in numeric mode, which never reports errors:
// on anything unexpected it gives up and the generic validator rescans the
// same bytes, so all error positions come from one place.
#include "number_arrays.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace infera {
namespace json {

namespace {

inline bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }

inline bool IsHex(uint8_t c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

inline int HexValue(uint8_t c) {
  if (IsDigit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}

// Scans the JSON number grammar -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? from
// `pos`. Returns true and sets *end past the number, or false with *end at
// the offending byte.
bool ScanNumber(const uint8_t* s, size_t n, size_t pos, size_t* end) {
  if (pos < n && s[pos] == '-') ++pos;
  if (pos >= n || !IsDigit(s[pos])) return *end = pos, false;
  if (s[pos] == '0') {
    ++pos;
  } else {
    while (pos < n && IsDigit(s[pos])) ++pos;
  }
  if (pos < n && s[pos] == '.') {
    ++pos;
    if (pos >= n || !IsDigit(s[pos])) return *end = pos, false;
    while (pos < n && IsDigit(s[pos])) ++pos;
  }
  if (pos < n && (s[pos] == 'e' || s[pos] == 'E')) {
    ++pos;
    if (pos < n && (s[pos] == '+' || s[pos] == '-')) ++pos;
    if (pos >= n || !IsDigit(s[pos])) return *end = pos, false;
    while (pos < n && IsDigit(s[pos])) ++pos;
  }
  *end = pos;
  return true;
}

// Value of a valid JSON number that from_chars reported out of range:
// +-Infinity when it overflows, +-0 when it underflows (as JSON.parse does).
// The decimal exponent of the leading nonzero digit decides which: overflow
// needs >= 308, underflow <= -324, so its sign is unambiguous.
double OutOfRangeValue(const uint8_t* b, const uint8_t* e) {
  const bool negative = *b == '-';
  if (negative) ++b;
  bool found = false;
  int64_t magnitude = 0;
  int64_t int_digits = 0;
  while (b < e && IsDigit(*b)) {
    if (!found && *b != '0') found = true, magnitude = -int_digits;
    ++int_digits, ++b;
  }
  if (found) magnitude += int_digits - 1;
  if (b < e && *b == '.') {
    ++b;
    for (int64_t k = 1; b < e && IsDigit(*b); ++k, ++b) {
      if (!found && *b != '0') found = true, magnitude = -k;
    }
  }
  int64_t exponent = 0;
  if (b < e && (*b == 'e' || *b == 'E')) {
    ++b;
    const bool exp_negative = b < e && *b == '-';
    if (b < e && (*b == '+' || *b == '-')) ++b;
    for (; b < e && IsDigit(*b); ++b) {
      if (exponent < (int64_t{1} << 40)) exponent = exponent * 10 + (*b - '0');
    }
    if (exp_negative) exponent = -exponent;
  }
  const double v = (found && magnitude + exponent >= 0)
                       ? std::numeric_limits<double>::infinity()
                       : 0.0;
  return negative ? -v : v;
}

// Converts the validated number text [b, e) exactly like JSON.parse.
double ToDouble(const uint8_t* b, const uint8_t* e) {
  double v = 0;
  const auto r = std::from_chars(reinterpret_cast<const char*>(b),
                                 reinterpret_cast<const char*>(e), v);
  if (r.ec == std::errc::result_out_of_range) v = OutOfRangeValue(b, e);
  return v;
}

// True when the escaped key body [b, b+len) decodes to exactly "data".
bool EscapedKeyIsData(const uint8_t* b, size_t len) {
  static const char kData[] = "data";
  size_t matched = 0;
  for (size_t i = 0; i < len; ++matched) {
    uint32_t c = b[i];
    if (c == '\\') {
      const uint8_t esc = b[i + 1];  // validated: escapes are complete
      if (esc == 'u') {
        c = 0;
        for (int k = 2; k < 6; ++k) c = c * 16 + HexValue(b[i + k]);
        i += 6;
      } else {
        // Only the escapes that can decode to a letter matter; the others
        // (\b \f \n \r \t) decode to control characters, never to "data".
        c = (esc == '"' || esc == '\\' || esc == '/') ? esc : 0;
        i += 2;
      }
    } else {
      i += 1;
    }
    if (matched >= 4 || c != static_cast<uint8_t>(kData[matched])) return false;
  }
  return matched == 4;
}

class Scanner {
 public:
  Scanner(const uint8_t* s, size_t n, Extraction* out)
      : s_(s), n_(n), out_(out) {}

  Status Run() {
    // A leading UTF-8 BOM is skipped (and dropped from the output), as
    // TextDecoder would; JSON.parse itself rejects U+FEFF.
    if (n_ >= 3 && s_[0] == 0xEF && s_[1] == 0xBB && s_[2] == 0xBF) {
      pos_ = copied_ = 3;
    }
    if (!Value(0)) return status_;
    SkipWs();
    if (pos_ != n_) {
      Fail(pos_, "unexpected data after the JSON value");
      return status_;
    }
    out_->json.append(reinterpret_cast<const char*>(s_) + copied_,
                      n_ - copied_);
    return Status::Ok();
  }

 private:
  bool Fail(size_t at, const char* detail) {
    status_ = Status::Error("malformed JSON at byte " + std::to_string(at) +
                                " (" + detail + ")",
                            at);
    return false;
  }
  bool FailEnd() { return Fail(n_, "unexpected end of input"); }

  void SkipWs() {
    while (pos_ < n_) {
      const uint8_t c = s_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++pos_;
    }
  }

  bool Value(int depth) {
    SkipWs();
    if (pos_ >= n_) return FailEnd();
    const uint8_t c = s_[pos_];
    switch (c) {
      case '{': return Object(depth + 1);
      case '[': return Array(depth + 1);
      case '"': return String(nullptr);
      case 't': return Literal("true", 4);
      case 'f': return Literal("false", 5);
      case 'n': return Literal("null", 4);
      default: break;
    }
    if (c == '-' || IsDigit(c)) {
      size_t end = 0;
      if (!ScanNumber(s_, n_, pos_, &end)) {
        return end >= n_ ? FailEnd() : Fail(end, "invalid number");
      }
      pos_ = end;
      return true;
    }
    return Fail(pos_, "unexpected character");
  }

  bool Literal(const char* word, size_t len) {
    for (size_t i = 0; i < len; ++i) {
      if (pos_ + i >= n_) return FailEnd();
      if (s_[pos_ + i] != static_cast<uint8_t>(word[i])) {
        return Fail(pos_ + i, "invalid literal");
      }
    }
    pos_ += len;
    return true;
  }

  // pos_ is at '"'. When is_data is given, reports whether the decoded
  // string is exactly "data".
  bool String(bool* is_data) {
    const size_t open = pos_++;
    bool escaped = false;
    for (;;) {
      if (pos_ >= n_) return Fail(n_, "unterminated string");
      const uint8_t c = s_[pos_];
      if (c == '"') break;
      if (c < 0x20) return Fail(pos_, "control character in string");
      if (c != '\\') {
        ++pos_;
        continue;
      }
      escaped = true;
      if (pos_ + 1 >= n_) return Fail(n_, "unterminated string");
      switch (s_[pos_ + 1]) {
        case '"': case '\\': case '/': case 'b':
        case 'f': case 'n': case 'r': case 't':
          pos_ += 2;
          continue;
        case 'u':
          for (size_t k = pos_ + 2; k < pos_ + 6; ++k) {
            if (k >= n_) return Fail(n_, "unterminated string");
            if (!IsHex(s_[k])) return Fail(k, "invalid \\u escape");
          }
          pos_ += 6;
          continue;
        default:
          return Fail(pos_ + 1, "invalid escape");
      }
    }
    const size_t body = open + 1, len = pos_ - body;
    ++pos_;  // closing quote
    if (is_data != nullptr) {
      *is_data = escaped ? EscapedKeyIsData(s_ + body, len)
                         : len == 4 && std::memcmp(s_ + body, "data", 4) == 0;
    }
    return true;
  }

  bool Object(int depth) {
    if (depth > kMaxDepth) return Fail(pos_, "nesting too deep");
    ++pos_;  // '{'
    SkipWs();
    if (pos_ < n_ && s_[pos_] == '}') return ++pos_, true;
    for (;;) {
      SkipWs();
      if (pos_ >= n_) return FailEnd();
      if (s_[pos_] != '"') return Fail(pos_, "expected a string key");
      bool is_data = false;
      if (!String(&is_data)) return false;
      SkipWs();
      if (pos_ >= n_) return FailEnd();
      if (s_[pos_] != ':') return Fail(pos_, "expected ':'");
      ++pos_;
      if (!(is_data ? DataValue(depth) : Value(depth))) return false;
      SkipWs();
      if (pos_ >= n_) return FailEnd();
      if (s_[pos_] == ',') { ++pos_; continue; }
      if (s_[pos_] == '}') return ++pos_, true;
      return Fail(pos_, "expected ',' or '}'");
    }
  }

  bool Array(int depth) {
    if (depth > kMaxDepth) return Fail(pos_, "nesting too deep");
    ++pos_;  // '['
    SkipWs();
    if (pos_ < n_ && s_[pos_] == ']') return ++pos_, true;
    for (;;) {
      if (!Value(depth)) return false;
      SkipWs();
      if (pos_ >= n_) return FailEnd();
      if (s_[pos_] == ',') { ++pos_; continue; }
      if (s_[pos_] == ']') return ++pos_, true;
      return Fail(pos_, "expected ',' or ']'");
    }
  }

  // The value of a "data" member: try numeric mode, else validate generically.
  bool DataValue(int depth) {
    SkipWs();
    if (pos_ < n_ && s_[pos_] == '[') {
      const size_t start = pos_;
      DoubleBuffer values;
      bool nested = false;
      if (NumericArray(depth + 1, &values, &nested)) {
        if (values.size() > 0) Replace(start, std::move(values), nested);
        return true;
      }
      if (!status_.ok()) return false;  // out of memory
      pos_ = start;                     // not numeric: rescan generically
    }
    return Value(depth);
  }

  // Numeric mode. pos_ is at '['. Returns false (recording no error, except
  // out of memory) as soon as the array is not purely numeric or not valid.
  bool NumericArray(int depth, DoubleBuffer* values, bool* nested) {
    if (depth > kMaxDepth) return false;
    ++pos_;  // '['
    SkipWs();
    if (pos_ < n_ && s_[pos_] == ']') return ++pos_, true;
    for (;;) {
      SkipWs();
      if (pos_ >= n_) return false;
      const uint8_t c = s_[pos_];
      double v = 0;
      if (c == '[') {
        *nested = true;
        if (!NumericArray(depth + 1, values, nested)) return false;
      } else {
        if (c == '-' || IsDigit(c)) {
          size_t end = 0;
          if (!ScanNumber(s_, n_, pos_, &end)) return false;
          v = ToDouble(s_ + pos_, s_ + end);
          pos_ = end;
        } else if (c == 't' && Matches("true", 4)) {
          v = 1, pos_ += 4;
        } else if (c == 'f' && Matches("false", 5)) {
          v = 0, pos_ += 5;
        } else {
          return false;
        }
        if (!values->Push(v)) {
          status_ = Status::Error("out of memory while collecting numbers");
          return false;
        }
      }
      SkipWs();
      if (pos_ >= n_) return false;
      if (s_[pos_] == ',') { ++pos_; continue; }
      if (s_[pos_] == ']') return ++pos_, true;
      return false;
    }
  }

  bool Matches(const char* word, size_t len) const {
    return n_ - pos_ >= len && std::memcmp(s_ + pos_, word, len) == 0;
  }

  // Emits the text before `start`, then the index k in place of the array
  // that ends at pos_.
  void Replace(size_t start, DoubleBuffer values, bool nested) {
    out_->json.append(reinterpret_cast<const char*>(s_) + copied_,
                      start - copied_);
    out_->json += std::to_string(out_->arrays.size());
    copied_ = pos_;
    out_->arrays.push_back(std::move(values));
    out_->nested.push_back(nested ? 1 : 0);
  }

  const uint8_t* s_;
  size_t n_;
  Extraction* out_;
  size_t pos_ = 0;
  size_t copied_ = 0;  // input bytes already emitted to out_->json
  Status status_;
};

}  // namespace

Status ExtractNumberArrays(const uint8_t* text, size_t len, Extraction* out) {
  out->json.clear();
  out->arrays.clear();
  out->nested.clear();
  return Scanner(text, len, out).Run();
}

}  // namespace json
}  // namespace infera
