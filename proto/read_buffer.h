// ReadBuffer: bytes read from a socket and not parsed yet, data()[0, size()).
// Reads append at write_ptr(); parsing consumes from the front. Reserve()
// makes room for a read by moving the pending bytes to the front when that
// frees enough space, else by growing; Release() frees the memory (an idle
// connection holds none). Used by the broker's sessions and the client's
// connections to parse frames in place. Not thread-safe.
#ifndef HALFMQ_PROTO_READ_BUFFER_H_
#define HALFMQ_PROTO_READ_BUFFER_H_

#include <cstddef>
#include <memory>

namespace halfmq::proto {

class ReadBuffer {
 public:
  const char* data() const { return data_.get() + begin_; }
  size_t size() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }

  // Makes at least `space` bytes writable at write_ptr().
  void Reserve(size_t space);
  char* write_ptr() { return data_.get() + end_; }
  size_t writable() const { return capacity_ - end_; }
  // Records that `n` bytes were written at write_ptr().
  void Commit(size_t n) { end_ += n; }
  // Drops `n` parsed bytes from the front.
  void Consume(size_t n) { begin_ += n; }
  void Release();

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace halfmq::proto

#endif  // HALFMQ_PROTO_READ_BUFFER_H_
