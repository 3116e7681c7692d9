// The one command-line parser of our tools (the `halfmq` CLI and
// halfmq-bench): flags of the form `--name value`, `--name=value` and boolean
// `--name`, positional arguments, and `--` to end flags; numbers are
// range-checked, never cast. (halfmq-broker uses gflags.) Pure functions and
// values; thread-compatible.
#ifndef HALFMQ_COMMON_ARGS_H_
#define HALFMQ_COMMON_ARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace halfmq {

// Process exit codes, which scripts rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // the operation failed (broker error, I/O)
inline constexpr int kExitUsage = 2;  // bad command line

enum class FlagKind {
  kBool,      // --name
  kValue,     // --name V, at most once
  kRepeated,  // --name V, any number of times
};

struct FlagSpec {
  std::string name;  // without the leading "--"
  FlagKind kind = FlagKind::kBool;
};

// The result of parsing: positional arguments in order, and flag values.
class ParsedArgs {
 public:
  const std::vector<std::string>& positionals() const { return positionals_; }
  bool Has(std::string_view flag) const { return flags_.count(std::string(flag)) > 0; }
  // The value of a kValue flag, if given.
  std::optional<std::string> Value(std::string_view flag) const;
  // Every value of a kRepeated flag, in command-line order.
  std::vector<std::string> Values(std::string_view flag) const;
  // The value parsed as an unsigned integer in [min, max], or `default_value`
  // if the flag is absent. Errors: INVALID_ARGUMENT (a usage error).
  Result<uint64_t> Uint(std::string_view flag, uint64_t default_value, uint64_t min,
                        uint64_t max) const;

 private:
  friend Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                      const std::vector<FlagSpec>& specs);
  std::vector<std::string> positionals_;
  std::map<std::string, std::vector<std::string>> flags_;
};

// Parses `args` (no program name) against `specs`. "-h" is read as "--help"
// when a "help" flag is specified. Errors (INVALID_ARGUMENT, all usage
// errors): unknown flag, missing value, a value given to a boolean flag, a
// kValue flag given twice.
Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                             const std::vector<FlagSpec>& specs);

// Parses a decimal unsigned integer in [min, max]; `what` names it in errors.
Result<uint64_t> ParseUint(std::string_view what, std::string_view text, uint64_t min,
                           uint64_t max);

// Parses a decimal number ("2", "1.5", "1e2") in [min, max]; `what` names
// it in errors. Errors: INVALID_ARGUMENT, also for "nan" and "inf".
Result<double> ParseDouble(std::string_view what, std::string_view text, double min, double max);

// The shortest decimal form that reads back as `value`: "2", "1.5", "1e+21";
// "inf", "nan" for those.
std::string FormatDouble(double value);

// Splits a comma-separated list ("a,b,c"). Errors: INVALID_ARGUMENT for an
// empty list or an empty element ("a,,b", "a,").
Result<std::vector<std::string>> ParseList(std::string_view what, std::string_view text);

// ParseList, each element as ParseUint in [min, max].
Result<std::vector<uint64_t>> ParseUintList(std::string_view what, std::string_view text,
                                            uint64_t min, uint64_t max);

// Splits "name=value" (the value may be empty or contain '='). Errors:
// INVALID_ARGUMENT when there is no '=' or the name is empty.
Result<std::pair<std::string, std::string>> ParseProperty(std::string_view text);

}  // namespace halfmq

#endif  // HALFMQ_COMMON_ARGS_H_
