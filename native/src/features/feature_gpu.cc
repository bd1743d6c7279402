// Host preparation of the GPU feature transform (see feature_gpu.h).
#include "features/feature_gpu.h"

#include <cmath>
#include <string>

#include "features/category_key.h"
#include "features/iso_time.h"

namespace infera {
namespace features {

TransformOutcome PrepareGpuInputs(const FeaturePlan& plan, const std::vector<Column>& columns,
                                  int32_t rows, GpuInputs* in) {
  TransformOutcome res;
  in->fields.assign(plan.fields.size(), {});
  for (size_t f = 0; f < plan.fields.size(); ++f) {
    const Column& c = columns[f];
    if (plan.fields[f] == FieldType::kString) {
      for (int32_t r = 0; r < rows; ++r) {
        const char16_t* b = c.At(r);
        const char16_t* e = b + c.Length(r);
        TrimJs(&b, &e);
        if (b == e) return res.invalid = true, res;
      }
      continue;
    }
    std::vector<double>& v = in->fields[f];
    v.resize(rows);
    for (int32_t r = 0; r < rows; ++r) {
      v[r] = c.numbers ? c.numbers[r] : ParseIsoTimestamp(c.At(r), c.Length(r));
      if (!std::isfinite(v[r])) return res.invalid = true, res;
    }
  }
  std::vector<uint8_t> fallback(rows, 0);
  std::vector<uint32_t> unknown(rows, 0);
  std::u16string key;
  in->indices.clear();
  in->batch = cuda::FeatureGpuBatch{};
  in->batch.rows = rows;
  in->batch.width = plan.width;
  for (const Block& b : plan.blocks) {
    cuda::GpuBlock g{};
    g.field = b.input;
    g.offset = b.offset;
    g.unit = b.unit == TimeUnit::kHourOfDay ? 0 : 1;
    g.log1p = b.log1p ? 1 : 0;
    g.mean = b.mean;
    g.std = b.std;
    g.clip = b.clip;
    g.index = -1;
    switch (b.kind) {
      case BlockKind::kNumeric: g.kind = 0; break;
      case BlockKind::kCyclic: g.kind = 1; break;
      case BlockKind::kTimeOneHot: g.kind = 2; break;
      case BlockKind::kCategorical:
      case BlockKind::kCrossHour: {
        g.kind = 3;
        g.index = static_cast<int>(in->indices.size());
        in->indices.emplace_back(rows, -1);
        std::vector<int32_t>& idx = in->indices.back();
        for (int32_t r = 0; r < rows; ++r) {
          if (!NormalizedKey(columns[b.input], r, b.normalize, &key)) {
            fallback[r] = 1;
            continue;
          }
          if (b.kind == BlockKind::kCategorical) {
            const auto it = b.vocabulary.find(key);
            if (it == b.vocabulary.end()) ++unknown[r];
            idx[r] = it == b.vocabulary.end() ? b.unknown_index : it->second;
          } else {
            const double slot = std::floor(MinuteOfDay(in->fields[b.time_input][r]) / 60.0 / b.hours_per_slot);
            if (!(slot >= 0 && slot < 1e9)) {
              fallback[r] = 1;
              continue;
            }
            idx[r] = static_cast<int32_t>(Fnv1a(key, static_cast<int64_t>(slot)) % b.buckets);
          }
        }
        break;
      }
    }
    in->batch.blocks.push_back(g);
  }
  for (int32_t r = 0; r < rows; ++r) {
    if (fallback[r]) res.fallback_rows.push_back(r);
    else res.unknown += unknown[r];
  }
  for (const auto& v : in->fields) in->batch.fields.push_back(v.empty() ? nullptr : v.data());
  for (const auto& v : in->indices) in->batch.indices.push_back(v.data());
  in->batch.hour_table = plan.hour_table.data();
  in->batch.week_table = plan.week_table.data();
  return res;
}

}  // namespace features
}  // namespace infera
