#include "common/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/args.h"
#include "common/utf8.h"

namespace halfmq {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendEscapedByte(unsigned char c, std::string* out) {
  out->append("\\u00");
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 0xF]);
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t pos = 0;
  while (pos < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[pos]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++pos;
    } else if (c < 0x20 || c == 0x7f) {
      AppendEscapedByte(c, out);
      ++pos;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++pos;
    } else {
      size_t n = Utf8SequenceLength(s, pos);
      if (n == 0) {
        AppendEscapedByte(c, out);
        ++pos;
      } else {
        out->append(s.substr(pos, n));
        pos += n;
      }
    }
  }
  out->push_back('"');
}

std::string HexEncode(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

void JsonObject::Key(std::string_view key) {
  if (!first_) out_.push_back(',');
  first_ = false;
  AppendJsonString(key, &out_);
  out_.push_back(':');
}

JsonObject& JsonObject::Str(std::string_view key, std::string_view value) {
  Key(key);
  AppendJsonString(value, &out_);
  return *this;
}

JsonObject& JsonObject::Int(std::string_view key, int64_t value) {
  Key(key);
  out_.append(std::to_string(value));
  return *this;
}

JsonObject& JsonObject::Uint(std::string_view key, uint64_t value) {
  Key(key);
  out_.append(std::to_string(value));
  return *this;
}

JsonObject& JsonObject::Bool(std::string_view key, bool value) {
  Key(key);
  out_.append(value ? "true" : "false");
  return *this;
}

JsonObject& JsonObject::Double(std::string_view key, double value) {
  Key(key);
  out_.append(std::isfinite(value) ? FormatDouble(value) : "null");
  return *this;
}

JsonObject& JsonObject::Fixed(std::string_view key, double value, int decimals) {
  Key(key);
  if (!std::isfinite(value)) {
    out_.append("null");
    return *this;
  }
  char buf[384];  // DBL_MAX with 9 decimals fits
  std::snprintf(buf, sizeof(buf), "%.*f", std::clamp(decimals, 0, 9), value);
  out_.append(buf);
  return *this;
}

JsonObject& JsonObject::UintArray(std::string_view key, const std::vector<uint64_t>& values) {
  Key(key);
  out_.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out_.push_back(',');
    out_.append(std::to_string(values[i]));
  }
  out_.push_back(']');
  return *this;
}

JsonObject& JsonObject::Object(std::string_view key, const JsonObject& value) {
  Key(key);
  out_.append(value.str());
  return *this;
}

JsonObject& JsonObject::ObjectArray(std::string_view key, const std::vector<JsonObject>& values) {
  Key(key);
  out_.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out_.push_back(',');
    out_.append(values[i].str());
  }
  out_.push_back(']');
  return *this;
}

JsonObject& JsonObject::StrArray(std::string_view key, const std::vector<std::string>& values) {
  Key(key);
  out_.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out_.push_back(',');
    AppendJsonString(values[i], &out_);
  }
  out_.push_back(']');
  return *this;
}

JsonObject& JsonObject::StrMap(std::string_view key,
                               const std::map<std::string, std::string>& values) {
  Key(key);
  out_.push_back('{');
  bool first = true;
  for (const auto& [k, v] : values) {
    if (!first) out_.push_back(',');
    first = false;
    AppendJsonString(k, &out_);
    out_.push_back(':');
    AppendJsonString(v, &out_);
  }
  out_.push_back('}');
  return *this;
}

JsonObject& JsonObject::IntMap(std::string_view key, const std::map<std::string, int64_t>& values) {
  Key(key);
  out_.push_back('{');
  bool first = true;
  for (const auto& [k, v] : values) {
    if (!first) out_.push_back(',');
    first = false;
    AppendJsonString(k, &out_);
    out_.push_back(':');
    out_.append(std::to_string(v));
  }
  out_.push_back('}');
  return *this;
}

}  // namespace halfmq
