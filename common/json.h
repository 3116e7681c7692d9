// The one JSON writer of our tools: the CLI's `--json` output and
// halfmq-bench's `--json` report, one object per line.
//
// Strings are escaped so that any byte string round-trips losslessly:
// '"' and '\' are backslash-escaped; control bytes (< 0x20) and DEL as
// \u00XX; well-formed UTF-8 is copied as is; and every byte >= 0x80 that is
// not part of well-formed UTF-8 becomes \u00XX of that byte. So in the
// output, \u0080..\u00ff always stands for a raw byte (a real U+0080..U+00FF
// would have been copied as its two UTF-8 bytes), and a reader that needs
// the exact bytes of a binary body can map those escapes back to bytes.
// Pure functions and a value type; thread-compatible.
#ifndef HALFMQ_COMMON_JSON_H_
#define HALFMQ_COMMON_JSON_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace halfmq {

// Appends `s` as a quoted, escaped JSON string.
void AppendJsonString(std::string_view s, std::string* out);

// Lowercase hex of the bytes of `s` (receipt handles are opaque bytes).
std::string HexEncode(std::string_view s);

// Builds one JSON object with keys in insertion order:
//   JsonObject().Str("topic", t).Uint("queue", q).str()
class JsonObject {
 public:
  JsonObject() : out_("{") {}

  JsonObject& Str(std::string_view key, std::string_view value);
  JsonObject& Int(std::string_view key, int64_t value);
  JsonObject& Uint(std::string_view key, uint64_t value);
  JsonObject& Bool(std::string_view key, bool value);
  // Shortest exact decimal form; null for NaN and infinities.
  JsonObject& Double(std::string_view key, double value);
  // Rounded to `decimals` digits after the point (printf's %.Nf, at most
  // 9); null for NaN and infinities. For reports whose readers compare
  // figures, not exact values.
  JsonObject& Fixed(std::string_view key, double value, int decimals);
  JsonObject& UintArray(std::string_view key, const std::vector<uint64_t>& values);
  // A nested object.
  JsonObject& Object(std::string_view key, const JsonObject& value);
  // An array of objects (etcd transaction compares and operations).
  JsonObject& ObjectArray(std::string_view key, const std::vector<JsonObject>& values);
  JsonObject& StrArray(std::string_view key, const std::vector<std::string>& values);
  JsonObject& StrMap(std::string_view key, const std::map<std::string, std::string>& values);
  JsonObject& IntMap(std::string_view key, const std::map<std::string, int64_t>& values);

  // The finished object, e.g. {"a":1}.
  std::string str() const { return out_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string out_;
  bool first_ = true;
};

}  // namespace halfmq

#endif  // HALFMQ_COMMON_JSON_H_
