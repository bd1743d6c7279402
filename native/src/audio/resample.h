// Audio front end in C++: PCM16 -> float32 and sample-rate conversion to
// 16 kHz (any integer input rate; 8 and 48 kHz are the tested ones).
//
// The resampler is a polyphase windowed-sinc FIR for the rational factor
// L/M = 16000/rate (reduced by their gcd), designed to match SoX's default
// `rate -h` ("high quality"): linear phase, pass band to 95% of the lower
// Nyquist frequency, stop band from 100% of it, 125 dB rejection — a Kaiser
// window (beta = 0.1102 (125 - 8.7)) whose length follows Kaiser's formula for
// that transition band. Each polyphase branch is normalized to unit DC gain.
// Output sample j sits at time j / 16000 s like input sample i at i / rate
// (no delay); samples outside the input count as zeros; the output has
// floor(n * L / M) samples (as sox). Pure C++ (no N-API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace infera {
namespace audio {

constexpr int kTargetRate = 16000;

// Little-endian PCM16 interleaved frames -> float32 of the first channel,
// x / 32768 (exactly src/audio/wav.ts pcm16ToFloat).
void Pcm16ToFloat(const uint8_t* bytes, size_t frames, int channels, float* out);

struct ResampleFilter {
  int rate = 0;  // input rate
  int up = 1;    // L
  int down = 1;  // M
  int half = 0;  // taps h[n], n = -half..half at the up-sampled rate
  // Polyphase branches: for output phase p = (j*M) mod L, the taps that meet
  // input samples, ordered by input index; branch_first[p] is the offset
  // (in input samples) of the first one relative to floor(j*M / L).
  std::vector<std::vector<double>> branches;
  std::vector<int> branch_first;
};

// The filter for `rate` -> 16 kHz, designed once per rate and cached
// (thread-safe). rate must be positive.
std::shared_ptr<const ResampleFilter> FilterFor(int rate);

// Output length for n input samples.
size_t ResampledLength(const ResampleFilter& f, size_t n);

// Resamples x[0..n) into out (ResampledLength samples). A 16 kHz input is
// copied unchanged.
void Resample(const ResampleFilter& f, const float* x, size_t n, float* out);

// The streaming form of Resample for one connection. Invariant: pushing the
// input in any split and then calling Flush yields exactly Resample of the
// whole input, bit for bit (every output sums the same products in the same
// order), so a live stream equals the offline run. Memory is bounded by the
// filter length plus one frame.
class StreamResampler {
 public:
  explicit StreamResampler(std::shared_ptr<const ResampleFilter> f);

  // Appends n input samples to the stream and appends to *out every output
  // sample whose filter window is now complete.
  void Push(const float* x, size_t n, std::vector<float>* out);
  // Same for little-endian PCM16 mono bytes (2 per sample), decoded as
  // Pcm16ToFloat does.
  void PushPcm16(const uint8_t* bytes, size_t n, std::vector<float>* out);
  // The end of the input: appends the remaining outputs (input continued by
  // zeros) up to ResampledLength of everything pushed. Push after Flush is an
  // error the caller prevents (the binding checks flushed()).
  void Flush(std::vector<float>* out);
  bool flushed() const { return flushed_; }

 private:
  float* Grow(size_t n);
  void Produce(bool final, std::vector<float>* out);

  std::shared_ptr<const ResampleFilter> f_;
  bool passthrough_;
  int min_first_ = 0;  // smallest branch_first: how far back any window reaches
  std::vector<float> buf_;
  long long base_ = 0;            // absolute index of buf_[0]
  long long count_ = 0;           // input samples received
  unsigned long long next_ = 0;   // next output sample
  bool flushed_ = false;
};

}  // namespace audio
}  // namespace infera
