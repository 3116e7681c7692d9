#include "common/json_reader.h"

#include <charconv>

#include "common/utf8.h"

namespace halfmq {

// Recursive descent over `text_`; pos_ is the next unread byte. Each Parse*
// returns an error Status carrying the offset where it stopped.
class JsonParser {
 public:
  JsonParser(std::string_view text, int max_depth) : text_(text), max_depth_(max_depth) {}

  Result<JsonValue> ParseDocument() {
    JsonValue value;
    SkipWhitespace();
    HALFMQ_RETURN_IF_ERROR(ParseValue(&value, 0));
    SkipWhitespace();
    if (pos_ != text_.size()) return Error("trailing characters after the value");
    return value;
  }

 private:
  Status Error(std::string_view what) const { return ErrorAt(what, pos_); }
  static Status ErrorAt(std::string_view what, size_t offset) {
    return Status::InvalidArgument("json: " + std::string(what) + " at offset " +
                                   std::to_string(offset));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  void SkipWhitespace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      ++pos_;
    }
  }

  Status ParseValue(JsonValue* out, int depth) {
    if (AtEnd()) return Error("unexpected end of input, expected a value");
    switch (Peek()) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"':
        out->type_ = JsonValue::Type::kString;
        return ParseString(&out->text_);
      case 't':
        out->type_ = JsonValue::Type::kBool;
        out->bool_ = true;
        return ParseLiteral("true");
      case 'f':
        out->type_ = JsonValue::Type::kBool;
        return ParseLiteral("false");
      case 'n':
        return ParseLiteral("null");
      default:
        out->type_ = JsonValue::Type::kNumber;
        return ParseNumber(&out->text_);
    }
  }

  Status ParseLiteral(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return Error("invalid literal");
    pos_ += word.size();
    return Status::Ok();
  }

  size_t SkipDigits() {
    size_t start = pos_;
    while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    return pos_ - start;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  Status ParseNumber(std::string* out) {
    size_t start = pos_;
    if (!AtEnd() && Peek() == '-') ++pos_;
    if (AtEnd() || Peek() < '0' || Peek() > '9') return Error("unexpected character");
    if (Peek() == '0') {
      ++pos_;
      if (!AtEnd() && Peek() >= '0' && Peek() <= '9') return Error("leading zero in a number");
    } else {
      SkipDigits();
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (SkipDigits() == 0) return Error("digit expected after the decimal point");
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (SkipDigits() == 0) return Error("digit expected in the exponent");
    }
    out->assign(text_.substr(start, pos_ - start));
    return Status::Ok();
  }

  Result<uint32_t> ParseHex4() {
    if (text_.size() - pos_ < 4) return Error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_ + i];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return ErrorAt("invalid hex digit in \\u escape", pos_ + i);
      v = v << 4 | static_cast<uint32_t>(d);
    }
    pos_ += 4;
    return v;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | cp >> 6));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | cp >> 12));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | cp >> 18));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  // After "\u": one code point, a surrogate pair taking two escapes.
  Status ParseUnicodeEscape(std::string* out) {
    size_t start = pos_ - 2;
    Result<uint32_t> first = ParseHex4();
    if (!first.ok()) return first.status();
    uint32_t cp = *first;
    if (cp >= 0xdc00 && cp <= 0xdfff) return ErrorAt("lone low surrogate", start);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (text_.substr(pos_, 2) != "\\u") return ErrorAt("high surrogate without a low one", start);
      pos_ += 2;
      Result<uint32_t> second = ParseHex4();
      if (!second.ok()) return second.status();
      if (*second < 0xdc00 || *second > 0xdfff) {
        return ErrorAt("high surrogate without a low one", start);
      }
      cp = 0x10000 + ((cp - 0xd800) << 10) + (*second - 0xdc00);
    }
    AppendUtf8(cp, out);
    return Status::Ok();
  }

  Status ParseEscape(std::string* out) {
    if (AtEnd()) return Error("unterminated string");
    char c = Peek();
    ++pos_;
    if (c == 'u') return ParseUnicodeEscape(out);
    // The two-character escapes and what they stand for, position by position.
    constexpr std::string_view kEscaped = "\"\\/bfnrt";
    constexpr std::string_view kMeaning = "\"\\/\b\f\n\r\t";
    const size_t i = kEscaped.find(c);
    if (i == std::string_view::npos) return ErrorAt("invalid escape", pos_ - 2);
    out->push_back(kMeaning[i]);
    return Status::Ok();
  }

  Status ParseString(std::string* out) {
    ++pos_;  // opening quote
    for (;;) {
      if (AtEnd()) return Error("unterminated string");
      unsigned char c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        ++pos_;
        return Status::Ok();
      }
      if (c == '\\') {
        ++pos_;
        HALFMQ_RETURN_IF_ERROR(ParseEscape(out));
      } else if (c < 0x20) {
        return Error("control character in string");
      } else if (c < 0x80) {
        out->push_back(static_cast<char>(c));
        ++pos_;
      } else {
        size_t n = Utf8SequenceLength(text_, pos_);
        if (n == 0) return Error("invalid UTF-8 in string");
        out->append(text_.substr(pos_, n));
        pos_ += n;
      }
    }
  }

  Status ParseArray(JsonValue* out, int depth) {
    if (depth > max_depth_) return Error("nesting too deep");
    out->type_ = JsonValue::Type::kArray;
    ++pos_;  // '['
    SkipWhitespace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return Status::Ok();
    }
    for (;;) {
      out->items_.emplace_back();
      HALFMQ_RETURN_IF_ERROR(ParseValue(&out->items_.back(), depth));
      SkipWhitespace();
      if (AtEnd()) return Error("unterminated array");
      char c = Peek();
      ++pos_;
      if (c == ']') return Status::Ok();
      if (c != ',') return ErrorAt("expected ',' or ']'", pos_ - 1);
      SkipWhitespace();
    }
  }

  Status ParseObject(JsonValue* out, int depth) {
    if (depth > max_depth_) return Error("nesting too deep");
    out->type_ = JsonValue::Type::kObject;
    ++pos_;  // '{'
    SkipWhitespace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return Status::Ok();
    }
    for (;;) {
      if (AtEnd() || Peek() != '"') return Error("expected a member name");
      size_t key_pos = pos_;
      std::string name;
      HALFMQ_RETURN_IF_ERROR(ParseString(&name));
      if (out->Find(name) != nullptr) return ErrorAt("duplicate member name", key_pos);
      SkipWhitespace();
      if (AtEnd() || Peek() != ':') return Error("expected ':'");
      ++pos_;
      SkipWhitespace();
      out->keys_.push_back(std::move(name));
      out->items_.emplace_back();
      HALFMQ_RETURN_IF_ERROR(ParseValue(&out->items_.back(), depth));
      SkipWhitespace();
      if (AtEnd()) return Error("unterminated object");
      char c = Peek();
      ++pos_;
      if (c == '}') return Status::Ok();
      if (c != ',') return ErrorAt("expected ',' or '}'", pos_ - 1);
      SkipWhitespace();
    }
  }

  std::string_view text_;
  int max_depth_;
  size_t pos_ = 0;
};

const JsonValue* JsonValue::Find(std::string_view name) const {
  if (type_ != Type::kObject) return nullptr;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == name) return &items_[i];
  }
  return nullptr;
}

namespace {

// The digits of an integer held by a number or a string, or an error.
Result<std::string_view> IntegerText(const JsonValue& v) {
  if (!v.is_number() && !v.is_string()) {
    return Status::InvalidArgument("json: not a number or a string of digits");
  }
  std::string_view t = v.text();
  std::string_view digits = !t.empty() && t[0] == '-' ? t.substr(1) : t;
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::InvalidArgument("json: '" + std::string(t) + "' is not an integer");
  }
  return t;
}

template <typename T>
Result<T> ParseInteger(const JsonValue& v) {
  Result<std::string_view> t = IntegerText(v);
  if (!t.ok()) return t.status();
  T out{};
  auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), out);
  if (ec != std::errc() || end != t->data() + t->size()) {
    return Status::InvalidArgument("json: integer '" + std::string(*t) + "' out of range");
  }
  return out;
}

}  // namespace

Result<int64_t> JsonValue::AsInt64() const { return ParseInteger<int64_t>(*this); }
Result<uint64_t> JsonValue::AsUint64() const { return ParseInteger<uint64_t>(*this); }

Result<JsonValue> ParseJson(std::string_view text, int max_depth) {
  return JsonParser(text, max_depth).ParseDocument();
}

}  // namespace halfmq
