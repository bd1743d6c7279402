// Growable double array whose malloc'd storage can be handed to JS.
#pragma once

#include <cstddef>

namespace infera {
namespace json {

// Growable array of doubles whose storage can be handed off (release()) as
// a malloc'd block, so the JS side can adopt it without copying.
class DoubleBuffer {
 public:
  DoubleBuffer() = default;
  DoubleBuffer(DoubleBuffer&& other) noexcept;
  DoubleBuffer& operator=(DoubleBuffer&& other) noexcept;
  DoubleBuffer(const DoubleBuffer&) = delete;
  DoubleBuffer& operator=(const DoubleBuffer&) = delete;
  ~DoubleBuffer();

  // Returns false when memory could not be grown.
  bool Push(double v) {
    if (size_ == capacity_ && !Grow()) return false;
    data_[size_++] = v;
    return true;
  }
  void Clear() { size_ = 0; }
  size_t size() const { return size_; }
  const double* data() const { return data_; }
  // Gives up ownership of the malloc'd storage (may be null when empty).
  double* Release();

 private:
  bool Grow();
  double* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace json
}  // namespace infera
