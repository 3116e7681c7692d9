#include "common/utf8.h"

#include <cstdint>

namespace halfmq {

size_t Utf8SequenceLength(std::string_view s, size_t pos) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  auto is_cont = [](uint8_t b) { return (b & 0xC0) == 0x80; };
  uint8_t b0 = byte(pos);
  if (b0 < 0x80) return 1;
  size_t len;
  // The allowed range of the second byte is what rules out overlong forms,
  // surrogates and code points above U+10FFFF (RFC 3629, section 4).
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;  // continuation byte, C0/C1 (always overlong) or F5..FF
  }
  if (s.size() - pos < len) return 0;
  uint8_t b1 = byte(pos + 1);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (!is_cont(byte(pos + i))) return 0;
  }
  return len;
}

bool IsValidUtf8(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t n = Utf8SequenceLength(s, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    size_t n = Utf8SequenceLength(s, pos);
    if (n == 0) {
      out.push_back('?');
      ++pos;
    } else {
      out.append(s.substr(pos, n));
      pos += n;
    }
  }
  return out;
}

}  // namespace halfmqent
