// Polyphase windowed-sinc resampling to 16 kHz (see resample.h).
#include "audio/resample.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>

namespace infera {
namespace audio {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kRejectionDb = 125.0;  // sox -h
constexpr double kBandwidth3dB = 0.95;  // -3 dB point, of the lower Nyquist
constexpr double kStopBand = 1.0;

double BesselI0(double x) {
  double sum = 1, term = 1;
  for (int k = 1; k < 200; ++k) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

std::shared_ptr<ResampleFilter> Design(int rate) {
  auto f = std::make_shared<ResampleFilter>();
  const int g = std::gcd(kTargetRate, rate);
  f->rate = rate;
  f->up = kTargetRate / g;
  f->down = rate / g;
  // Frequencies as fractions of the up-sampled rate.
  // sox's band-width is the -3 dB point; its TO_3dB(rejection) places that
  // point this fraction of the transition band below the stop-band edge.
  const double to3db = (1.6e-6 * kRejectionDb - 7.5e-4) * kRejectionDb + 0.646;
  const double pass = kStopBand - (kStopBand - kBandwidth3dB) / to3db;
  const double nyquist = 0.5 / std::max(f->up, f->down);
  const double cutoff = nyquist * (pass + kStopBand) / 2;
  const double transition = 2 * kPi * nyquist * (kStopBand - pass);
  const double beta = 0.1102 * (kRejectionDb - 8.7);
  const int taps = static_cast<int>(std::ceil((kRejectionDb - 7.95) / (2.285 * transition))) + 1;
  f->half = taps / 2;
  std::vector<double> h(2 * f->half + 1);
  const double i0 = BesselI0(beta);
  for (int n = -f->half; n <= f->half; ++n) {
    const double r = static_cast<double>(n) / f->half;
    const double window = BesselI0(beta * std::sqrt(std::max(0.0, 1 - r * r))) / i0;
    const double x = 2 * kPi * cutoff * n;
    h[n + f->half] = (n == 0 ? 2 * cutoff : std::sin(x) / (kPi * n)) * window;
  }
  // Branch p serves outputs with (j*M) mod L == p: input i contributes
  // h[j*M - i*L + half] for i with |j*M - i*L| <= half.
  f->branches.resize(f->up);
  f->branch_first.resize(f->up);
  for (int p = 0; p < f->up; ++p) {
    // With j*M = q*L + p: n = (q - i)*L + p; let d = i - q, n = p - d*L.
    const int d_min = static_cast<int>(std::ceil(static_cast<double>(p - f->half) / f->up));
    const int d_max = static_cast<int>(std::floor(static_cast<double>(p + f->half) / f->up));
    f->branch_first[p] = d_min;
    double sum = 0;
    for (int d = d_min; d <= d_max; ++d) {
      const double v = h[p - d * f->up + f->half];
      f->branches[p].push_back(v);
      sum += v;
    }
    for (double& v : f->branches[p]) v /= sum;  // unit DC gain per branch
  }
  return f;
}

}  // namespace

void Pcm16ToFloat(const uint8_t* bytes, size_t frames, int channels, float* out) {
  for (size_t i = 0; i < frames; ++i) {
    const uint8_t* p = bytes + i * 2 * channels;
    const int16_t v = static_cast<int16_t>(static_cast<uint16_t>(p[0]) | (static_cast<uint16_t>(p[1]) << 8));
    out[i] = static_cast<float>(v) / 32768.0f;
  }
}

std::shared_ptr<const ResampleFilter> FilterFor(int rate) {
  static std::mutex mu;
  static std::map<int, std::shared_ptr<const ResampleFilter>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(rate);
  if (it != cache.end()) return it->second;
  std::shared_ptr<const ResampleFilter> f = Design(rate);
  cache.emplace(rate, f);
  return f;
}

size_t ResampledLength(const ResampleFilter& f, size_t n) {
  return static_cast<size_t>((static_cast<unsigned long long>(n) * f.up) / f.down);
}

void Resample(const ResampleFilter& f, const float* x, size_t n, float* out) {
  const size_t m = ResampledLength(f, n);
  // An empty frame has nothing to copy; memcpy with a null source is undefined even for
  // 0 bytes (found by fuzz/pcm_resample_fuzzer.cc under UBSan: a 1-byte frame).
  if (n == 0) return;
  if (f.up == 1 && f.down == 1) {
    std::memcpy(out, x, n * sizeof(float));
    return;
  }
  for (size_t j = 0; j < m; ++j) {
    const unsigned long long t = static_cast<unsigned long long>(j) * f.down;
    const long long q = static_cast<long long>(t / f.up);
    const int p = static_cast<int>(t % f.up);
    const std::vector<double>& taps = f.branches[p];
    const long long i0 = q + f.branch_first[p];
    double acc = 0;
    // Fast path away from the edges; zeros outside [0, n) otherwise.
    if (i0 >= 0 && i0 + static_cast<long long>(taps.size()) <= static_cast<long long>(n)) {
      const float* xs = x + i0;
      for (size_t k = 0; k < taps.size(); ++k) acc += taps[k] * xs[k];
    } else {
      for (size_t k = 0; k < taps.size(); ++k) {
        const long long i = i0 + static_cast<long long>(k);
        if (i >= 0 && i < static_cast<long long>(n)) acc += taps[k] * x[i];
      }
    }
    out[j] = static_cast<float>(acc);
  }
}

StreamResampler::StreamResampler(std::shared_ptr<const ResampleFilter> f)
    : f_(std::move(f)), passthrough_(f_->up == 1 && f_->down == 1) {
  for (int first : f_->branch_first) min_first_ = std::min(min_first_, first);
}

float* StreamResampler::Grow(size_t n) {
  const size_t used = buf_.size();
  buf_.resize(used + n);
  count_ += static_cast<long long>(n);
  return buf_.data() + used;
}

void StreamResampler::Push(const float* x, size_t n, std::vector<float>* out) {
  if (passthrough_) {
    out->insert(out->end(), x, x + n);
    return;
  }
  if (n > 0) std::memcpy(Grow(n), x, n * sizeof(float));
  Produce(false, out);
}

void StreamResampler::PushPcm16(const uint8_t* bytes, size_t n, std::vector<float>* out) {
  if (passthrough_) {
    const size_t used = out->size();
    out->resize(used + n);
    Pcm16ToFloat(bytes, n, 1, out->data() + used);
    return;
  }
  if (n > 0) Pcm16ToFloat(bytes, n, 1, Grow(n));
  Produce(false, out);
}

void StreamResampler::Flush(std::vector<float>* out) {
  flushed_ = true;
  if (!passthrough_) Produce(true, out);
}

void StreamResampler::Produce(bool final, std::vector<float>* out) {
  const ResampleFilter& f = *f_;
  // Never past the length of everything pushed so far: the total only grows.
  const unsigned long long limit = ResampledLength(f, static_cast<size_t>(count_));
  for (; next_ < limit; ++next_) {
    const unsigned long long t = next_ * f.down;
    const long long q = static_cast<long long>(t / f.up);
    const int p = static_cast<int>(t % f.up);
    const std::vector<double>& taps = f.branches[p];
    const long long i0 = q + f.branch_first[p];
    const long long size = static_cast<long long>(taps.size());
    if (!final && i0 + size > count_) break;  // window not complete yet
    // The same sum, in the same order, as Resample (inputs outside [0, count) skipped).
    double acc = 0;
    for (long long k = 0; k < size; ++k) {
      const long long i = i0 + k;
      if (i >= 0 && i < count_) acc += taps[k] * buf_[i - base_];
    }
    out->push_back(static_cast<float>(acc));
  }
  // Drop input that no later window reaches (windows start at q(next) + min_first).
  const long long keep_from = static_cast<long long>(next_ * f.down / f.up) + min_first_;
  const long long drop = std::min(keep_from, count_) - base_;
  if (drop > 4096 && drop * 2 > static_cast<long long>(buf_.size())) {
    buf_.erase(buf_.begin(), buf_.begin() + drop);
    base_ += drop;
  }
}

}  // namespace audio
}  // namespace infera
