// Native feature transform (see feature_transform.h). Same arithmetic as
// src/features/transform.ts: float64 computations stored once to float32.
#include "features/feature_transform.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>

#include "exec/thread_pool.h"
#include "features/category_key.h"
#include "features/iso_time.h"

namespace infera {
namespace features {
namespace {

bool IsBlank(const Column& c, int32_t r) {
  const char16_t* b = c.At(r);
  const char16_t* e = b + c.Length(r);
  TrimJs(&b, &e);
  return b == e;
}

}  // namespace

TransformOutcome TransformRows(const FeaturePlan& plan, const std::vector<Column>& columns,
                               int32_t r0, int32_t r1, float* out) {
  TransformOutcome res;
  const int32_t n = r1 - r0;
  const size_t width = static_cast<size_t>(plan.width);
  // Validation in the TypeScript order, and timestamps as epoch ms.
  std::vector<std::vector<double>> ms(plan.fields.size());
  for (size_t f = 0; f < plan.fields.size(); ++f) {
    const Column& c = columns[f];
    if (plan.fields[f] == FieldType::kString) {
      for (int32_t r = r0; r < r1; ++r) if (IsBlank(c, r)) return res.invalid = true, res;
      continue;
    }
    if (plan.fields[f] == FieldType::kTimestamp && !c.numbers) {
      ms[f].resize(n);
      for (int32_t r = r0; r < r1; ++r) {
        ms[f][r - r0] = ParseIsoTimestamp(c.At(r), c.Length(r));
        if (!std::isfinite(ms[f][r - r0])) return res.invalid = true, res;
      }
      continue;
    }
    for (int32_t r = r0; r < r1; ++r) if (!std::isfinite(c.numbers[r])) return res.invalid = true, res;
  }
  auto value = [&](int f, int32_t r) { return ms[f].empty() ? columns[f].numbers[r] : ms[f][r - r0]; };
  std::vector<uint8_t> fallback(n, 0);
  std::vector<uint32_t> unknown(n, 0);
  std::u16string key;
  for (const Block& b : plan.blocks) {
    float* base = out + b.offset;
    switch (b.kind) {
      case BlockKind::kNumeric:
        for (int32_t r = r0; r < r1; ++r) {
          const double x = value(b.input, r);
          const double v = b.log1p ? std::log1p(x > 0 ? x : 0.0) : x;
          const double z = (v - b.mean) / b.std;
          base[r * width] = static_cast<float>(z > b.clip ? b.clip : z < -b.clip ? -b.clip : z);
        }
        break;
      case BlockKind::kCyclic:
        for (int32_t r = r0; r < r1; ++r) {
          const double t = value(b.input, r);
          const int mod = MinuteOfDay(t);
          const float* sc = b.unit == TimeUnit::kHourOfDay
                                ? &plan.hour_table[2 * mod]
                                : &plan.week_table[2 * (DayOfWeek(t) * 1440 + mod)];
          base[r * width] = sc[0];
          base[r * width + 1] = sc[1];
          // TypeScript's minuteOfDay is -0 at midnight of a negative
          // timestamp (-1440k % 1440), so its sin(2π·-0/1440) is -0.
          if (b.unit == TimeUnit::kHourOfDay && mod == 0) {
            const double m = std::fmod(std::floor(t / 60000.0), 1440.0);
            if (std::signbit(m)) base[r * width] = -0.0f;
          }
        }
        break;
      case BlockKind::kTimeOneHot:
        for (int32_t r = r0; r < r1; ++r) {
          const double t = value(b.input, r);
          const int k = b.unit == TimeUnit::kHourOfDay ? MinuteOfDay(t) / 60 : DayOfWeek(t);
          base[r * width + k] = 1.0f;
        }
        break;
      case BlockKind::kCategorical:
        for (int32_t r = r0; r < r1; ++r) {
          if (!NormalizedKey(columns[b.input], r, b.normalize, &key)) {
            fallback[r - r0] = 1;
            continue;
          }
          const auto it = b.vocabulary.find(key);
          if (it == b.vocabulary.end()) ++unknown[r - r0];
          base[r * width + (it == b.vocabulary.end() ? b.unknown_index : it->second)] = 1.0f;
        }
        break;
      case BlockKind::kCrossHour:
        for (int32_t r = r0; r < r1; ++r) {
          const double slot = std::floor(MinuteOfDay(value(b.time_input, r)) / 60.0 / b.hours_per_slot);
          if (!NormalizedKey(columns[b.input], r, b.normalize, &key) || !(slot >= 0 && slot < 1e9)) {
            fallback[r - r0] = 1;
            continue;
          }
          base[r * width + Fnv1a(key, static_cast<int64_t>(slot)) % b.buckets] = 1.0f;
        }
        break;
    }
  }
  for (int32_t i = 0; i < n; ++i) {
    if (fallback[i]) res.fallback_rows.push_back(r0 + i);
    else res.unknown += unknown[i];
  }
  return res;
}

TransformOutcome TransformBatch(const FeaturePlan& plan, const std::vector<Column>& columns,
                                int32_t rows, int max_threads, float* out, bool zero_first) {
  const size_t width = static_cast<size_t>(plan.width);
  auto run = [&](int32_t a, int32_t b) {
    if (zero_first) std::memset(out + a * width, 0, static_cast<size_t>(b - a) * width * sizeof(float));
    return TransformRows(plan, columns, a, b, out);
  };
  int chunks = 1;
  if (max_threads > 1 && rows >= 2 * kFeatureParallelMinRows) {
    chunks = std::min({max_threads, exec::ThreadPool::Instance().Concurrency(),
                       static_cast<int>(rows / kFeatureParallelMinRows)});
  }
  if (chunks <= 1) return run(0, rows);
  std::vector<TransformOutcome> parts(chunks);
  exec::ThreadPool::Instance().ParallelFor(chunks, [&](int c) {
    const int32_t a = static_cast<int32_t>(static_cast<int64_t>(rows) * c / chunks);
    const int32_t b = static_cast<int32_t>(static_cast<int64_t>(rows) * (c + 1) / chunks);
    parts[c] = run(a, b);
  });
  TransformOutcome all;
  for (TransformOutcome& p : parts) {
    all.invalid = all.invalid || p.invalid;
    all.unknown += p.unknown;
    all.fallback_rows.insert(all.fallback_rows.end(), p.fallback_rows.begin(), p.fallback_rows.end());
  }
  return all;
}

}  // namespace features
}  // namespace infera
