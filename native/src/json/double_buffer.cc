// DoubleBuffer: realloc-doubling storage; Release() trims the slack.
#include "double_buffer.h"

#include <cstdlib>
#include <limits>

namespace infera {
namespace json {

DoubleBuffer::DoubleBuffer(DoubleBuffer&& o) noexcept
    : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
  o.data_ = nullptr;
  o.size_ = o.capacity_ = 0;
}

DoubleBuffer& DoubleBuffer::operator=(DoubleBuffer&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = o.data_;
    size_ = o.size_;
    capacity_ = o.capacity_;
    o.data_ = nullptr;
    o.size_ = o.capacity_ = 0;
  }
  return *this;
}

DoubleBuffer::~DoubleBuffer() { std::free(data_); }

bool DoubleBuffer::Grow() {
  const size_t cap = capacity_ == 0 ? 1024 : capacity_ * 2;
  if (cap > std::numeric_limits<size_t>::max() / sizeof(double)) return false;
  void* p = std::realloc(data_, cap * sizeof(double));
  if (p == nullptr) return false;
  data_ = static_cast<double*>(p);
  capacity_ = cap;
  return true;
}

double* DoubleBuffer::Release() {
  if (data_ != nullptr && size_ > 0 && size_ < capacity_) {
    // Trim the doubling slack: the block may live long on the JS side.
    void* p = std::realloc(data_, size_ * sizeof(double));
    if (p != nullptr) data_ = static_cast<double*>(p);
  }
  double* d = data_;
  data_ = nullptr;
  size_ = capacity_ = 0;
  return d;
}

}  // namespace json
}  // namespace infera
