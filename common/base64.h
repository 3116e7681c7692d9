// Base64 with the standard alphabet and '=' padding (RFC 4648 section 4):
// how etcd's JSON gateway carries keys and values, which are arbitrary bytes.
//
// Pure functions, thread-safe.
#ifndef HALFMQ_COMMON_BASE64_H_
#define HALFMQ_COMMON_BASE64_H_

#include <string>
#include <string_view>

#include "common/status.h"

namespace halfmq {

// Encodes any bytes; the output length is a multiple of 4.
std::string Base64Encode(std::string_view bytes);

// Decodes padded standard base64. Strict: the length must be a multiple of
// 4, only the alphabet and trailing '=' (at most two) are accepted, and the
// unused low bits before the padding must be zero, so each byte string has
// exactly one accepted encoding.
// Errors: INVALID_ARGUMENT "base64: <why> at offset N".
Result<std::string> Base64Decode(std::string_view text);

}  // namespace halfmq

#endif  // HALFMQ_COMMON_BASE64_H_
