#include "common/args.h"

#include <charconv>
#include <system_error>

namespace halfmq {

std::optional<std::string> ParsedArgs::Value(std::string_view flag) const {
  auto it = flags_.find(std::string(flag));
  if (it == flags_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::Values(std::string_view flag) const {
  auto it = flags_.find(std::string(flag));
  if (it == flags_.end()) return {};
  return it->second;
}

Result<uint64_t> ParsedArgs::Uint(std::string_view flag, uint64_t default_value, uint64_t min,
                                  uint64_t max) const {
  std::optional<std::string> value = Value(flag);
  if (!value.has_value()) return default_value;
  return ParseUint("--" + std::string(flag), *value, min, max);
}

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                             const std::vector<FlagSpec>& specs) {
  auto find_spec = [&](std::string_view name) -> const FlagSpec* {
    for (const FlagSpec& spec : specs) {
      if (spec.name == name) return &spec;
    }
    return nullptr;
  };
  ParsedArgs out;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      out.positionals_.push_back(arg);  // includes "-" and ""
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    std::string name;
    std::optional<std::string> inline_value;
    if (arg == "-h") {
      name = "help";
    } else if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) inline_value = arg.substr(eq + 1);
    } else {
      return Status::InvalidArgument("unknown flag '" + arg + "'");
    }
    const FlagSpec* spec = find_spec(name);
    if (spec == nullptr) return Status::InvalidArgument("unknown flag '--" + name + "'");
    std::vector<std::string>& values = out.flags_[name];
    if (spec->kind == FlagKind::kBool) {
      if (inline_value.has_value()) {
        return Status::InvalidArgument("flag '--" + name + "' takes no value");
      }
      values.push_back("true");
      continue;
    }
    if (spec->kind == FlagKind::kValue && !values.empty()) {
      return Status::InvalidArgument("flag '--" + name + "' given more than once");
    }
    if (inline_value.has_value()) {
      values.push_back(*inline_value);
    } else if (i + 1 < args.size()) {
      // The next word is the value even if it starts with '-', so that
      // `--body -1` works.
      values.push_back(args[++i]);
    } else {
      return Status::InvalidArgument("flag '--" + name + "' needs a value");
    }
  }
  return out;
}

Result<uint64_t> ParseUint(std::string_view what, std::string_view text, uint64_t min,
                           uint64_t max) {
  auto bad = [&] {
    return Status::InvalidArgument(std::string(what) + " must be an integer in " +
                                   std::to_string(min) + ".." + std::to_string(max) + ", not '" +
                                   std::string(text) + "'");
  };
  if (text.empty() || text.size() > 20) return bad();
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return bad();
    value = value * 10 + digit;
  }
  if (value < min || value > max) return bad();
  return value;
}

Result<double> ParseDouble(std::string_view what, std::string_view text, double min, double max) {
  auto bad = [&] {
    return Status::InvalidArgument(std::string(what) + " must be a number in " + FormatDouble(min) +
                                   ".." + FormatDouble(max) + ", not '" + std::string(text) + "'");
  };
  // from_chars also reads "inf" and "nan"; only digits may start a number.
  if (text.empty() || text.front() < '0' || text.front() > '9') return bad();
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return bad();
  if (!(value >= min && value <= max)) return bad();
  return value;
}

std::string FormatDouble(double value) {
  char buf[64];
  auto [end, error] = std::to_chars(buf, buf + sizeof(buf), value);
  if (error != std::errc()) return std::to_string(value);
  return std::string(buf, end);
}

Result<std::vector<std::string>> ParseList(std::string_view what, std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) {
      return Status::InvalidArgument(std::string(what) + " has an empty element: '" +
                                     std::string(text) + "'");
    }
    out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

Result<std::vector<uint64_t>> ParseUintList(std::string_view what, std::string_view text,
                                            uint64_t min, uint64_t max) {
  auto items = ParseList(what, text);
  if (!items.ok()) return items.status();
  std::vector<uint64_t> out;
  out.reserve(items->size());
  for (const std::string& item : *items) {
    auto value = ParseUint(std::string(what) + " element", item, min, max);
    if (!value.ok()) return value.status();
    out.push_back(*value);
  }
  return out;
}

Result<std::pair<std::string, std::string>> ParseProperty(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::InvalidArgument("property '" + std::string(text) + "' is not NAME=VALUE");
  }
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

}  // namespace halfmq
