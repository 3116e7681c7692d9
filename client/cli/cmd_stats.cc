// `halfmq stats`.
#include <iostream>

#include "client/cli/command.h"
#include "common/json.h"
#include "halfmq/admin.h"

namespace halfmq::cli {
namespace {

int Stats(const ParsedArgs& args, Context& ctx) {
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto counters = (*admin)->GetBrokerStats();
  if (!counters.ok()) return ctx.Fail(counters.status());
  if (args.Has("json")) {
    // One object whose keys are the counter names, so `jq .name` works.
    std::string line = "{";
    bool first = true;
    for (const auto& [name, value] : *counters) {
      if (!first) line += ',';
      first = false;
      AppendJsonString(name, &line);
      line += ':' + std::to_string(value);
    }
    *ctx.out << line << "}\n";
    return kExitOk;
  }
  for (const auto& [name, value] : *counters) *ctx.out << name << " " << value << "\n";
  return kExitOk;
}

}  // namespace

void AddStatsCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"stats"},
      .positionals = {},
      .synopsis = "[--json]",
      .summary = "print the broker's counters",
      .help = "  prints `NAME VALUE` per counter, sorted by name, or with --json a single\n"
              "  object {\"NAME\":VALUE,...}\n",
      .flags = {{"json", FlagKind::kBool}},
      .run = Stats,
  });
}

}  // namespace halfmq::cli
