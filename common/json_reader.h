// A small strict JSON reader (RFC 8259) into a value tree: what the etcd
// client (cluster/) reads the gateway's answers with. The writer side is
// common/json.h.
//
// Strict: one value with optional surrounding whitespace, no trailing
// bytes, no comments, no trailing commas, no duplicate object keys, no raw
// control characters or invalid UTF-8 inside strings, no lone surrogates in
// \u escapes, and nesting at most `max_depth` arrays/objects deep (so a
// hostile document cannot exhaust the stack). Numbers are kept as their text;
// AsInt64/AsUint64 convert them exactly (and accept a string of digits, as
// proto3's JSON mapping writes 64-bit integers).
//
// JsonValue is a value type: immutable after parsing, safe to share between
// threads. ParseJson is a pure function, thread-safe.
#ifndef HALFMQ_COMMON_JSON_READER_H_
#define HALFMQ_COMMON_JSON_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace halfmq {

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  JsonValue() = default;  // null

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Only for kBool; false otherwise.
  bool bool_value() const { return bool_; }
  // The decoded bytes of a kString, the literal text of a kNumber ("-1.5e3");
  // empty otherwise.
  const std::string& text() const { return text_; }

  // Elements of a kArray, member values of a kObject (in document order);
  // empty otherwise.
  size_t size() const { return items_.size(); }
  const JsonValue& at(size_t i) const { return items_.at(i); }
  // Member names of a kObject, parallel to at(i).
  const std::string& key(size_t i) const { return keys_.at(i); }

  // The member named `name` of a kObject; nullptr if absent or not an object.
  const JsonValue* Find(std::string_view name) const;

  // The exact integer of a kNumber without fraction or exponent, or of a
  // kString holding one ("-12", "18446744073709551615").
  // Errors: INVALID_ARGUMENT (not an integer, out of range).
  Result<int64_t> AsInt64() const;
  Result<uint64_t> AsUint64() const;

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;
  std::vector<std::string> keys_;
  std::vector<JsonValue> items_;
};

inline constexpr int kDefaultJsonMaxDepth = 64;

// Parses one JSON document.
// Errors: INVALID_ARGUMENT "json: <what> at offset N" (N is the byte offset
// in `text` where the problem was found).
Result<JsonValue> ParseJson(std::string_view text, int max_depth = kDefaultJsonMaxDepth);

}  // namespace halfmq

#endif  // HALFMQ_COMMON_JSON_READER_H_
