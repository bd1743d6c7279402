// libFuzzer harness: the ISO-8601 timestamp parser of the native feature
// transform reads the `date` feature of every /predict body
// (native/src/features/iso_time.cc). Input bytes are read as UTF-16 code
// units. Invariants: the result is NaN or a finite time within Date's range,
// and minute of day / day of week stay in range for it.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "features/iso_time.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<char16_t> text(size / 2);
  if (!text.empty()) std::memcpy(text.data(), data, text.size() * 2);
  const double ms = infera::features::ParseIsoTimestamp(text.data(), text.size());
  if (std::isnan(ms)) return 0;
  if (!(std::fabs(ms) <= 8.64e15)) std::abort();
  const int minute = infera::features::MinuteOfDay(ms);
  const int day = infera::features::DayOfWeek(ms);
  if (minute < 0 || minute >= 1440 || day < 0 || day > 6) std::abort();
  return 0;
}
