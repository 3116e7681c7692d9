#include "proto/read_buffer.h"

#include <algorithm>
#include <cstring>

namespace halfmq::proto {

void ReadBuffer::Reserve(size_t space) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (capacity_ - end_ >= space) return;
  size_t pending = end_ - begin_;
  if (begin_ > 0 && capacity_ - pending >= space) {
    std::memmove(data_.get(), data_.get() + begin_, pending);
  } else {
    size_t grown = std::max(capacity_ * 2, pending + space);
    std::unique_ptr<char[]> bigger(new char[grown]);  // left uninitialized: filled by reads
    if (pending > 0) std::memcpy(bigger.get(), data_.get() + begin_, pending);
    data_ = std::move(bigger);
    capacity_ = grown;
  }
  begin_ = 0;
  end_ = pending;
}

void ReadBuffer::Release() {
  data_.reset();
  capacity_ = begin_ = end_ = 0;
}

}  // namespace halfmq::proto
