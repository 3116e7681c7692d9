// Entry point of the `halfmq` CLI, separate from main() so tests can run
// commands with their own streams and environment.
#ifndef HALFMQ_CLIENT_CLI_CLI_H_
#define HALFMQ_CLIENT_CLI_CLI_H_

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace halfmq::cli {

struct CliEnv {
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  // $HALFMQ_BROKER, if set: the broker when --broker is not given.
  std::optional<std::string> broker;
};

inline constexpr char kDefaultBroker[] = "127.0.0.1:7480";

// Runs the command line `args` (without the program name) and returns the
// exit code: kExitOk, kExitError or kExitUsage (common/args.h).
int RunCli(const std::vector<std::string>& args, const CliEnv& env);

}  // namespace halfmq::cli

#endif  // HALFMQ_CLIENT_CLI_CLI_H_
