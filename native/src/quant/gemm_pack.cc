// Weight packing and per-channel quantization (see gemm_pack.h).
#include "quant/gemm_pack.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace infera {
namespace quant {

void AlignedFree::operator()(void* p) const { std::free(p); }

void* AlignedAlloc(size_t bytes) {
  // aligned_alloc needs a size that is a multiple of the alignment.
  return std::aligned_alloc(64, RoundUp(bytes > 0 ? bytes : 1, 64));
}

Status PackF32(const WeightView& w, PackedF32* out) {
  const int panels = static_cast<int>(RoundUp(w.N, kF32PanelCols)) / kF32PanelCols;
  const size_t count = static_cast<size_t>(panels) * w.K * kF32PanelCols;
  out->K = w.K;
  out->N = w.N;
  out->data = MakeAligned<float>(count);
  if (!out->data) return Status::Error("out of memory packing an fp32 weight");
  float* dst = out->data.get();
  for (int p = 0; p < panels; ++p) {
    for (int k = 0; k < w.K; ++k) {
      for (int j = 0; j < kF32PanelCols; ++j) {
        const int n = p * kF32PanelCols + j;
        *dst++ = n < w.N ? w.At(k, n) : 0.0f;
      }
    }
  }
  return Status::Ok();
}

Status QuantizeWeights(const WeightView& w, std::vector<int8_t>* q,
                       std::vector<float>* scales) {
  q->assign(static_cast<size_t>(w.K) * w.N, 0);
  scales->assign(w.N, 1.0f);
  for (int n = 0; n < w.N; ++n) {
    float amax = 0.0f;
    for (int k = 0; k < w.K; ++k) {
      const float v = w.At(k, n);
      if (!std::isfinite(v)) {
        return Status::Error("weight element (" + std::to_string(k) + ", " +
                             std::to_string(n) + ") is not finite");
      }
      amax = std::fmax(amax, std::fabs(v));
    }
    if (amax == 0.0f) continue;  // all-zero column: q = 0, scale 1
    const float scale = amax / kI8Max;
    (*scales)[n] = scale;
    for (int k = 0; k < w.K; ++k) {
      float r = std::nearbyint(w.At(k, n) / scale);
      r = std::fmin(std::fmax(r, -static_cast<float>(kI8Max)), kI8Max);
      (*q)[static_cast<size_t>(k) * w.N + n] = static_cast<int8_t>(r);
    }
  }
  return Status::Ok();
}

Status PackI8(const int8_t* q, const float* scales, int K, int N, float alpha,
              PackedI8* out, bool float_copy) {
  if (K > kI8MaxK) {
    return Status::Error("int8 weight has K = " + std::to_string(K) +
                         " rows, more than " + std::to_string(kI8MaxK) +
                         " (int32 accumulators could overflow)");
  }
  const int panels = static_cast<int>(RoundUp(N, kI8PanelCols)) / kI8PanelCols;
  const int Kp = static_cast<int>(RoundUp(K, kI8KGroup));
  const size_t npad = static_cast<size_t>(panels) * kI8PanelCols;
  out->K = K;
  out->Kp = Kp;
  out->N = N;
  out->data = MakeAligned<int8_t>(static_cast<size_t>(panels) * Kp * kI8PanelCols);
  out->scales = MakeAligned<float>(npad);
  out->colsum = MakeAligned<int32_t>(npad);
  if (!out->data || !out->scales || !out->colsum) {
    return Status::Error("out of memory packing an int8 weight");
  }
  for (size_t n = 0; n < npad; ++n) {
    out->scales[n] = n < static_cast<size_t>(N) ? alpha * scales[n] : 0.0f;
    out->colsum[n] = 0;
  }
  int8_t* dst = out->data.get();
  for (int p = 0; p < panels; ++p) {
    for (int g = 0; g < Kp / kI8KGroup; ++g) {
      for (int j = 0; j < kI8PanelCols; ++j) {
        const int n = p * kI8PanelCols + j;
        for (int t = 0; t < kI8KGroup; ++t) {
          const int k = g * kI8KGroup + t;
          int8_t v = 0;
          if (n < N && k < K) {
            v = q[static_cast<size_t>(k) * N + n];
            if (v < -kI8Max) return Status::Error("int8 weight -128 is outside [-127, 127]");
          }
          out->colsum[static_cast<size_t>(p) * kI8PanelCols + j] += v;
          *dst++ = v;
        }
      }
    }
  }
  if (float_copy) {
    out->qf = MakeAligned<float>(static_cast<size_t>(panels) * K * kF32PanelCols);
    if (!out->qf) return Status::Error("out of memory packing an int8 weight");
    float* f = out->qf.get();
    for (int p = 0; p < panels; ++p) {
      for (int k = 0; k < K; ++k) {
        for (int j = 0; j < kF32PanelCols; ++j) {
          const int n = p * kF32PanelCols + j;
          *f++ = n < N ? static_cast<float>(q[static_cast<size_t>(k) * N + n]) : 0.0f;
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace quant
}  // namespace infera
