// UTF-8 validation. Protobuf `string` fields must hold valid UTF-8 (a proto3
// parser rejects the whole frame otherwise), so the client checks text fields
// before sending, and the JSON writer (common/json.h) needs the same rule to
// decide which bytes to escape. Pure functions, thread-safe.
#ifndef HALFMQ_COMMON_UTF8_H_
#define HALFMQ_COMMON_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace halfmq {

// Length (1..4) of the well-formed UTF-8 sequence starting at s[pos], or 0 if
// the bytes there are not one: a stray continuation byte, a truncated
// sequence, an overlong encoding, a surrogate (U+D800..U+DFFF) or a code point
// above U+10FFFF. Requires pos < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t pos);

bool IsValidUtf8(std::string_view s);

// Copy of `s` with every byte that is not part of well-formed UTF-8 replaced
// by '?', for informational text (e.g. an exception message sent as a nack
// reason) that must fit a protobuf string field.
std::string SanitizeUtf8(std::string_view s);

}  // namespace halfmq

#endif  // HALFMQ_COMMON_UTF8_H_
