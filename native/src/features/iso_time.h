// Time helpers equal to src/features/time.ts, for the native transform:
// ISO-8601 parsing with the same grammar, validation and Date.UTC semantics
// (including Date.UTC mapping years 0..99 to 1900..1999), JavaScript's
// String.prototype.trim whitespace set, minute of day and day of week.
#pragma once

#include <cstddef>

namespace infera {
namespace features {

// True for the code units String.prototype.trim removes (WhiteSpace and
// LineTerminator of ECMA-262: TAB VT FF SP NBSP ZWNBSP, Unicode Zs, LF CR
// LS PS).
bool IsJsWhitespace(char16_t c);

// [*begin, *end) shrunk by IsJsWhitespace on both sides.
void TrimJs(const char16_t** begin, const char16_t** end);

// parseTimestamp(text): epoch milliseconds, or NaN when the text is not a
// valid timestamp (same grammar and checks as src/features/time.ts).
double ParseIsoTimestamp(const char16_t* text, size_t length);

// minuteOfDay / dayOfWeek of time.ts (ms must be finite).
int MinuteOfDay(double ms);
int DayOfWeek(double ms);

}  // namespace features
}  // namespace infera
