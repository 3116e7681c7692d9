// The CLI's command table. Each command group lives in its own cmd_*.cc and
// adds its commands through an Add*Commands function; cli.cc parses the
// command line, finds the command and runs it. A new command (txn list, dlq
// redrive, ...) is one more entry, usually in a new file.
#ifndef HALFMQ_CLIENT_CLI_COMMAND_H_
#define HALFMQ_CLIENT_CLI_COMMAND_H_

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "common/args.h"
#include "common/status.h"
#include "halfmq/options.h"

namespace halfmq::cli {

struct Command;

// What a running command may use. Owned by RunCli for one command run.
struct Context {
  ClientOptions options;  // broker address resolved from flags and env
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  const Command* command = nullptr;

  // Reports a usage error ("halfmq: <message>" and the command's usage on
  // stderr) and returns kExitUsage.
  int Usage(std::string_view message) const;
  // Reports a failed operation ("halfmq: CODE: message") and returns
  // kExitError.
  int Fail(const Status& status) const;
};

struct Command {
  std::vector<std::string> words;        // e.g. {"topic", "create"}
  std::vector<std::string> positionals;  // required positional names, e.g. {"NAME"}
  std::string synopsis;                  // after words and positionals: "[--queues N]"
  std::string summary;                   // one line for the overview
  std::string help;                      // more lines for `COMMAND --help`; may be empty
  std::vector<FlagSpec> flags;           // besides the global --broker and --help
  std::function<int(const ParsedArgs& args, Context& ctx)> run;

  // "halfmq [--broker HOST:PORT] topic create NAME [--queues N]"
  std::string Usage() const;
};

void AddTopicCommands(std::vector<Command>* commands);
void AddSendCommands(std::vector<Command>* commands);
void AddConsumeCommands(std::vector<Command>* commands);
void AddGroupCommands(std::vector<Command>* commands);
void AddStatsCommands(std::vector<Command>* commands);
void AddTxnCommands(std::vector<Command>* commands);
void AddDlqCommands(std::vector<Command>* commands);
void AddMsgCommands(std::vector<Command>* commands);

// Formats broker milliseconds as UTC ISO 8601 ("2024-05-01T12:00:00.123Z").
std::string FormatTimeMs(int64_t ms);

// Rows (the first is the header) as left-aligned columns two spaces apart,
// one line each, without trailing spaces.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace halfmq::cli

#endif  // HALFMQ_CLIENT_CLI_COMMAND_H_
