// Version strings shared by broker and client.
#ifndef HALFMQ_COMMON_VERSION_H_
#define HALFMQ_COMMON_VERSION_H_

#include <cstdint>

namespace halfmq {

inline constexpr char kHalfmqVersion[] = "0.1.0";
// halfmq.v1 wire protocol.
inline constexpr uint32_t kProtocolVersion = 1;

}  // namespace halfmq

#endif  // HALFMQ_COMMON_VERSION_H_
