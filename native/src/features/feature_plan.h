// The compiled form of a feature spec (src/features/feature-spec.ts) for the
// native batched transform, and the column views it reads. Built by
// feature_bindings.cc from the object src/native/features.ts compiles; pure
// C++ so feature_transform.cc can run inside AsyncWorkers and thread chunks.
//
// Strings are UTF-16 code units, exactly as JavaScript holds them, so
// vocabulary lookups and the FNV-1a hash of cross_hour match the TypeScript
// transform unit for unit.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace infera {
namespace features {

enum class FieldType { kNumber, kTimestamp, kString };
enum class BlockKind { kNumeric, kCyclic, kTimeOneHot, kCategorical, kCrossHour };
enum class Normalize { kNone, kTrimUpper };
enum class TimeUnit { kHourOfDay, kDayOfWeek };

struct Block {
  BlockKind kind = BlockKind::kNumeric;
  int input = -1;       // index into FeaturePlan::fields
  int time_input = -1;  // cross_hour: the timestamp field
  int offset = 0;       // first output column
  // numeric
  bool log1p = false;
  double mean = 0, std = 1, clip = 0;
  // cyclic / time_onehot
  TimeUnit unit = TimeUnit::kHourOfDay;
  // categorical / cross_hour
  Normalize normalize = Normalize::kNone;
  std::unordered_map<std::u16string, int32_t> vocabulary;
  int32_t unknown_index = 0;  // = vocabulary size
  double hours_per_slot = 1;
  uint32_t buckets = 1;
};

struct FeaturePlan {
  int width = 0;
  std::vector<std::string> names;  // field names, for messages
  std::vector<FieldType> fields;
  std::vector<Block> blocks;
  // sin/cos per minute of the day (1440 x 2) and of the week (10080 x 2),
  // float32 values computed by JavaScript's Math.sin/Math.cos with the
  // transform's own expressions, so cyclic columns are bit-identical.
  std::vector<float> hour_table;
  std::vector<float> week_table;
};

// One input column of a batch: numbers (Float64Array: numbers, epoch ms) or
// strings (UTF-16 text of all rows back to back + each row's start).
struct Column {
  const double* numbers = nullptr;
  const char16_t* text = nullptr;
  std::vector<size_t> starts;  // rows + 1 offsets into text

  size_t Length(size_t r) const { return starts[r + 1] - starts[r]; }
  const char16_t* At(size_t r) const { return text + starts[r]; }
};

}  // namespace features
}  // namespace infera
