// Fixed-width big-endian integer coding. Big-endian so that byte order
// equals numeric order: storage keys built from these sort (and range-scan)
// by number; receipt handles use the same coding for a stable wire form.
// Stateless functions; thread-safe.
#ifndef HALFMQ_COMMON_CODING_H_
#define HALFMQ_COMMON_CODING_H_

#include <cstdint>
#include <string>

namespace halfmq {

// Append `v` to `dst` in 4 (8) bytes, most significant first.
void PutFixed32BE(std::string* dst, uint32_t v);
void PutFixed64BE(std::string* dst, uint64_t v);
// Read 4 (8) bytes at `p`, most significant first. The caller checks that
// they exist.
uint32_t DecodeFixed32BE(const char* p);
uint64_t DecodeFixed64BE(const char* p);

}  // namespace halfmq

#endif  // HALFMQ_COMMON_CODING_H_
