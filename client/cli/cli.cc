// Command-line dispatch: global flags, finding the command by its words,
// parsing its flags, help and usage errors.
#include "client/cli/cli.h"

#include <algorithm>
#include <ctime>
#include <iostream>
#include <sstream>

#include "client/cli/command.h"
#include "client/options_util.h"
#include "common/version.h"

namespace halfmq::cli {
namespace {

constexpr char kGlobalSynopsis[] = "halfmq [--broker HOST:PORT]";

std::vector<Command> AllCommands() {
  std::vector<Command> commands;
  AddTopicCommands(&commands);
  AddSendCommands(&commands);
  AddConsumeCommands(&commands);
  AddGroupCommands(&commands);
  AddStatsCommands(&commands);
  AddTxnCommands(&commands);
  AddDlqCommands(&commands);
  AddMsgCommands(&commands);
  return commands;
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

// Overview of every command whose words start with `prefix` (all if empty).
std::string Overview(const std::vector<Command>& commands, const std::vector<std::string>& prefix) {
  std::ostringstream out;
  out << "usage: " << kGlobalSynopsis << " COMMAND ...\n\ncommands:\n";
  for (const Command& c : commands) {
    if (!std::equal(prefix.begin(), prefix.end(), c.words.begin(),
                    c.words.begin() + std::min(prefix.size(), c.words.size()))) {
      continue;
    }
    std::string line = JoinWords(c.words);
    for (const std::string& p : c.positionals) line += " " + p;
    if (!c.synopsis.empty()) line += " " + c.synopsis;
    out << "  " << line << "\n      " << c.summary << "\n";
  }
  out << "\nThe broker is --broker, else $HALFMQ_BROKER, else " << kDefaultBroker << ".\n"
      << "--json prints one JSON object per line. Exit status: 0 success, 1 the operation\n"
      << "failed, 2 usage error. `halfmq COMMAND --help` shows a command's details.\n"
      << "`halfmq --version` prints the version.\n";
  return out.str();
}

// The synopsis lines alone, for usage errors: short enough for stderr.
std::string ShortUsage(const std::vector<Command>& commands,
                       const std::vector<std::string>& prefix) {
  std::string out;
  for (const Command& c : commands) {
    if (!std::equal(prefix.begin(), prefix.end(), c.words.begin(),
                    c.words.begin() + std::min(prefix.size(), c.words.size()))) {
      continue;
    }
    out += (out.empty() ? "usage: " : "       ") + c.Usage() + "\n";
  }
  return out + "Run 'halfmq --help' for details.\n";
}

// Finds the command whose words are the longest prefix of args[start..].
const Command* FindCommand(const std::vector<Command>& commands,
                           const std::vector<std::string>& args, size_t start) {
  const Command* best = nullptr;
  for (const Command& c : commands) {
    if (args.size() - start < c.words.size()) continue;
    if (!std::equal(c.words.begin(), c.words.end(), args.begin() + static_cast<long>(start))) {
      continue;
    }
    if (best == nullptr || c.words.size() > best->words.size()) best = &c;
  }
  return best;
}

bool IsGroupWord(const std::vector<Command>& commands, const std::string& word) {
  for (const Command& c : commands) {
    if (c.words.size() > 1 && c.words[0] == word) return true;
  }
  return false;
}

}  // namespace

std::string Command::Usage() const {
  std::string out = std::string(kGlobalSynopsis) + " " + JoinWords(words);
  for (const std::string& p : positionals) out += " " + p;
  if (!synopsis.empty()) out += " " + synopsis;
  return out;
}

int Context::Usage(std::string_view message) const {
  *err << "halfmq: " << message << "\nusage: " << command->Usage() << "\n";
  return kExitUsage;
}

int Context::Fail(const Status& status) const {
  *err << "halfmq: " << status.ToString() << "\n";
  return kExitError;
}

std::string FormatTimeMs(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return std::to_string(ms);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

namespace {

// The flags before the command word.
struct GlobalFlags {
  std::optional<std::string> broker;
  bool help = false;
  bool version = false;
  size_t command_at = 0;  // index of the first word after them
};

// Errors: INVALID_ARGUMENT (a usage error) for an unknown flag or a missing
// value.
Result<GlobalFlags> ParseGlobalFlags(const std::vector<std::string>& args) {
  GlobalFlags flags;
  size_t i = 0;
  for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
    } else if (arg == "--version") {
      flags.version = true;
    } else if (arg == "--broker") {
      if (i + 1 >= args.size()) return Status::InvalidArgument("flag '--broker' needs a value");
      flags.broker = args[++i];
    } else if (arg.rfind("--broker=", 0) == 0) {
      flags.broker = arg.substr(9);
    } else {
      return Status::InvalidArgument("unknown flag '" + arg +
                                     "' (command flags go after the command)");
    }
  }
  flags.command_at = i;
  return flags;
}

// args[i] names no command: the overview of a command group if asked for,
// else a usage error.
int NoSuchCommand(const std::vector<Command>& commands, const std::vector<std::string>& args,
                  size_t i, bool help, const CliEnv& env) {
  if (IsGroupWord(commands, args[i])) {
    bool help_next = i + 1 < args.size() && (args[i + 1] == "--help" || args[i + 1] == "-h");
    if (help_next || (help && i + 1 == args.size())) {
      *env.out << Overview(commands, {args[i]});
      return kExitOk;
    }
    std::string what = i + 1 < args.size()
                           ? "unknown subcommand '" + args[i] + " " + args[i + 1] + "'"
                           : "missing subcommand after '" + args[i] + "'";
    *env.err << "halfmq: " << what << "\n" << ShortUsage(commands, {args[i]});
    return kExitUsage;
  }
  *env.err << "halfmq: unknown command '" << args[i] << "'\n" << ShortUsage(commands, {});
  return kExitUsage;
}

// Parses the command's own flags and positionals and runs it.
int RunCommand(const Command& command, const std::vector<std::string>& rest,
               std::optional<std::string> broker, bool help, const CliEnv& env) {
  Context ctx;
  ctx.in = env.in;
  ctx.out = env.out;
  ctx.err = env.err;
  ctx.command = &command;

  std::vector<FlagSpec> specs = command.flags;
  specs.push_back({"broker", FlagKind::kValue});
  specs.push_back({"help", FlagKind::kBool});
  auto parsed = ParseArgs(rest, specs);
  if (!parsed.ok()) return ctx.Usage(parsed.status().message());
  if (help || parsed->Has("help")) {
    *env.out << "usage: " << command.Usage() << "\n  " << command.summary << "\n";
    if (!command.help.empty()) *env.out << command.help;
    return kExitOk;
  }
  const std::vector<std::string>& positionals = parsed->positionals();
  if (positionals.size() < command.positionals.size()) {
    return ctx.Usage("missing " + command.positionals[positionals.size()]);
  }
  if (positionals.size() > command.positionals.size()) {
    return ctx.Usage("unexpected argument '" + positionals[command.positionals.size()] + "'");
  }

  if (auto b = parsed->Value("broker")) broker = *b;
  if (!broker.has_value()) broker = env.broker;
  ctx.options.broker = broker.value_or(kDefaultBroker);
  auto address = client::ParseBrokerAddress(ctx.options.broker);
  if (!address.ok()) return ctx.Usage(address.status().message());
  ctx.options.client_id = "halfmq-cli@" + client::DefaultClientId();
  return command.run(*parsed, ctx);
}

}  // namespace

int RunCli(const std::vector<std::string>& args, const CliEnv& env) {
  const std::vector<Command> commands = AllCommands();
  // Global flags come before the command; --broker and --help are accepted
  // after it as well (see the command's own parse).
  auto global = ParseGlobalFlags(args);
  if (!global.ok()) {
    *env.err << "halfmq: " << global.status().message() << "\n" << ShortUsage(commands, {});
    return kExitUsage;
  }
  if (global->version) {
    // The same form as `halfmq-broker --version` (gflags' own).
    *env.out << "halfmq version " << kHalfmqVersion << "\n";
    return kExitOk;
  }
  size_t i = global->command_at;
  if (i == args.size()) {
    if (global->help) {
      *env.out << Overview(commands, {});
      return kExitOk;
    }
    *env.err << "halfmq: missing command\n" << ShortUsage(commands, {});
    return kExitUsage;
  }
  const Command* command = FindCommand(commands, args, i);
  if (command == nullptr) return NoSuchCommand(commands, args, i, global->help, env);
  std::vector<std::string> rest(args.begin() + static_cast<long>(i + command->words.size()),
                                args.end());
  return RunCommand(*command, rest, global->broker, global->help, env);
}

}  // namespace halfmq::cli
