// Time helpers mirroring src/features/time.ts (see iso_time.h).
#include "features/iso_time.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace infera {
namespace features {
namespace {

constexpr double kMsPerMinute = 60000.0;
constexpr double kMsPerDay = 86400000.0;

bool IsDigit(char16_t c) { return c >= u'0' && c <= u'9'; }

// Proleptic Gregorian days since 1970-01-01 (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Date.UTC treats years 0..99 as 1900..1999.
int64_t JsYear(int64_t y) { return y >= 0 && y <= 99 ? y + 1900 : y; }

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t year, int month) {  // new Date(Date.UTC(y, m, 0)).getUTCDate()
  static const int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int64_t y = JsYear(year);
  return month == 2 && IsLeap(y) ? 29 : kDays[month - 1];
}

}  // namespace

bool IsJsWhitespace(char16_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
    case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F:
    case 0x205F: case 0x3000: case 0xFEFF:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

void TrimJs(const char16_t** begin, const char16_t** end) {
  while (*begin < *end && IsJsWhitespace(**begin)) ++*begin;
  while (*end > *begin && IsJsWhitespace(*(*end - 1))) --*end;
}

double ParseIsoTimestamp(const char16_t* text, size_t length) {
  const double kNaN = std::nan("");
  const char16_t* b = text;
  const char16_t* e = text + length;
  TrimJs(&b, &e);
  const size_t n = static_cast<size_t>(e - b);
  auto digits = [&](size_t at, size_t count) {
    if (at + count > n) return false;
    for (size_t k = 0; k < count; ++k) if (!IsDigit(b[at + k])) return false;
    return true;
  };
  auto number = [&](size_t at, size_t count) {
    int64_t v = 0;
    for (size_t k = 0; k < count; ++k) v = v * 10 + (b[at + k] - u'0');
    return v;
  };
  // YYYY-MM-DD
  if (!digits(0, 4) || n < 10 || b[4] != u'-' || !digits(5, 2) || b[7] != u'-' || !digits(8, 2)) return kNaN;
  const int64_t year = number(0, 4);
  const int64_t month = number(5, 2);
  const int64_t day = number(8, 2);
  int64_t hour = 0, minute = 0, second = 0;
  double ms = 0;
  size_t i = 10;
  // [T ]HH:MM[:SS[.f{1,9}]]
  if (i < n && (b[i] == u'T' || b[i] == u' ')) {
    if (!digits(i + 1, 2) || i + 3 >= n || b[i + 3] != u':' || !digits(i + 4, 2)) return kNaN;
    hour = number(i + 1, 2);
    minute = number(i + 4, 2);
    i += 6;
    if (i < n && b[i] == u':') {
      if (!digits(i + 1, 2)) return kNaN;
      second = number(i + 1, 2);
      i += 3;
      if (i < n && b[i] == u'.') {
        size_t k = i + 1;
        std::string frac = "0.";
        while (k < n && IsDigit(b[k]) && k - (i + 1) < 9) frac.push_back(static_cast<char>(b[k++]));
        if (k == i + 1 || (k < n && IsDigit(b[k]))) return kNaN;  // 1..9 digits
        ms = std::floor(std::strtod(frac.c_str(), nullptr) * 1000);
        i = k;
      }
    }
  }
  // Z | [+-]HH[:]MM
  int64_t offset_minutes = 0;
  if (i < n && b[i] == u'Z') {
    ++i;
  } else if (i < n && (b[i] == u'+' || b[i] == u'-')) {
    const int64_t sign = b[i] == u'-' ? -1 : 1;
    if (!digits(i + 1, 2)) return kNaN;
    size_t k = i + 3;
    if (k < n && b[k] == u':') ++k;
    if (!digits(k, 2)) return kNaN;
    const int64_t off_h = number(i + 1, 2);
    const int64_t off_m = number(k, 2);
    i = k + 2;
    if (off_h > 23 || off_m > 59) return kNaN;
    offset_minutes = sign * (off_h * 60 + off_m);
  }
  if (i != n) return kNaN;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, static_cast<int>(month))) return kNaN;
  if (hour > 23 || minute > 59 || second > 59) return kNaN;
  const int64_t days = DaysFromCivil(JsYear(year), month, 1) + day - 1;
  const double t = static_cast<double>(days) * kMsPerDay +
                   static_cast<double>(hour * 3600000 + minute * 60000 + second * 1000) + ms;
  return t - static_cast<double>(offset_minutes) * kMsPerMinute;
}

int MinuteOfDay(double ms) {
  double m = std::fmod(std::floor(ms / kMsPerMinute), 1440.0);
  if (m < 0) m += 1440;
  return static_cast<int>(m);
}

int DayOfWeek(double ms) {
  double d = std::fmod(std::floor(ms / kMsPerDay) + 4, 7.0);
  if (d < 0) d += 7;
  return static_cast<int>(d);
}

}  // namespace features
}  // namespace infera
