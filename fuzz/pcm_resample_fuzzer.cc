// libFuzzer harness: PCM16 frames from a WebSocket client, decoded and
// resampled to 16 kHz (native/src/audio/resample.cc). The first byte picks
// the input rate and channel count; the rest are the frames, of any length.
// Invariants: decoded samples lie in [-1, 1); resampled output is finite.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "audio/resample.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const int kRates[] = {8000, 16000, 48000};
  const int rate = kRates[data[0] % 3];
  const int channels = 1 + (data[0] / 3) % 2;
  const uint8_t* bytes = data + 1;
  const size_t frames = (size - 1) / (2 * static_cast<size_t>(channels));
  std::vector<float> x(frames);
  infera::audio::Pcm16ToFloat(bytes, frames, channels, x.data());
  for (float v : x) {
    if (!(v >= -1.0f && v < 1.0f)) std::abort();
  }
  const auto filter = infera::audio::FilterFor(rate);
  std::vector<float> y(infera::audio::ResampledLength(*filter, frames));
  infera::audio::Resample(*filter, x.data(), frames, y.data());
  for (float v : y) {
    if (!std::isfinite(v)) std::abort();
  }
  return 0;
}
