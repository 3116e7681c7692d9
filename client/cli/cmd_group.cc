// `halfmq group lag|create|set-retry|get`.
#include <algorithm>
#include <iostream>
#include <variant>

#include "client/cli/command.h"
#include "client/cli/group.h"
#include "client/convert.h"
#include "common/json.h"
#include "halfmq/admin.h"

namespace halfmq::cli {
namespace {

int GroupLag(const ParsedArgs& args, Context& ctx) {
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto lags = (*admin)->GetLag(args.positionals()[0], args.Value("topic").value_or(""));
  if (!lags.ok()) return ctx.Fail(lags.status());
  if (args.Has("json")) {
    for (const QueueLag& q : *lags) {
      *ctx.out << JsonObject()
                      .Str("topic", q.topic)
                      .Uint("queue", q.queue_id)
                      .Uint("lag", q.lag)
                      .Uint("inflight", q.inflight)
                      .Uint("min_offset", q.min_offset)
                      .Uint("end_offset", q.end_offset)
                      .Uint("delivered_offset", q.delivered_offset)
                      .Uint("skipped", q.skipped)
                      .str()
               << "\n";
    }
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"TOPIC", "QUEUE", "LAG", "INFLIGHT", "MIN", "END", "DELIVERED", "SKIPPED"});
  for (const QueueLag& q : *lags) {
    rows.push_back({q.topic, std::to_string(q.queue_id), std::to_string(q.lag),
                    std::to_string(q.inflight), std::to_string(q.min_offset),
                    std::to_string(q.end_offset), std::to_string(q.delivered_offset),
                    std::to_string(q.skipped)});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      // Names left-aligned, numbers right-aligned.
      std::string fill(widths[c] - row[c].size(), ' ');
      line += c == 0 ? row[c] + fill : fill + row[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    *ctx.out << line << "\n";
  }
  return kExitOk;
}

int GroupCreate(const ParsedArgs& args, Context& ctx) {
  std::optional<std::string> topic = args.Value("topic");
  if (!topic.has_value()) return ctx.Usage("missing --topic");
  std::string from = args.Value("from").value_or("earliest");
  StartPosition start;
  if (from == "earliest") {
    start = StartPosition::kEarliest;
  } else if (from == "latest") {
    start = StartPosition::kLatest;
  } else {
    return ctx.Usage("--from must be 'earliest' or 'latest', not '" + from + "'");
  }
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  Status status = (*admin)->CreateSubscription(args.positionals()[0], *topic, start);
  if (!status.ok()) return ctx.Fail(status);
  *ctx.out << "created subscription group=" << args.positionals()[0] << " topic=" << *topic
           << " from=" << from << "\n";
  return kExitOk;
}

int PrintGroupConfig(const GroupConfig& config, bool json, Context& ctx) {
  *ctx.out << (json ? FormatGroupConfigJson(config) + "\n" : FormatGroupConfigText(config));
  return kExitOk;
}

int GroupSetRetry(const ParsedArgs& args, Context& ctx) {
  auto policy = ParseRetryPolicyFlags(args);
  if (!policy.ok()) return ctx.Usage(policy.status().message());
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto config = (*admin)->SetRetryPolicy(args.positionals()[0], *policy);
  if (!config.ok()) return ctx.Fail(config.status());
  return PrintGroupConfig(*config, args.Has("json"), ctx);
}

int GroupGet(const ParsedArgs& args, Context& ctx) {
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  auto config = (*admin)->GetGroupConfig(args.positionals()[0]);
  if (!config.ok()) return ctx.Fail(config.status());
  return PrintGroupConfig(*config, args.Has("json"), ctx);
}

std::vector<uint64_t> DelaysMs(const FixedDelays& fixed) {
  std::vector<uint64_t> out;
  for (std::chrono::milliseconds d : fixed.delays) out.push_back(static_cast<uint64_t>(d.count()));
  return out;
}

}  // namespace

Result<RetryPolicy> ParseRetryPolicyFlags(const ParsedArgs& args) {
  const uint64_t max_delay_ms = static_cast<uint64_t>(kMaxRetryDelay.count());
  RetryPolicy policy;
  int exponential_flags = 0;
  for (const char* flag : {"initial-ms", "multiplier", "max-ms"}) {
    if (args.Has(flag)) ++exponential_flags;
  }
  bool fixed = args.Has("delays-ms");
  if (exponential_flags > 0 && fixed) {
    return Status::InvalidArgument(
        "give either --initial-ms/--multiplier/--max-ms or --delays-ms, not both");
  }
  if (exponential_flags > 0 && exponential_flags < 3) {
    return Status::InvalidArgument("--initial-ms, --multiplier and --max-ms go together");
  }
  if (args.Has("no-jitter") && exponential_flags == 0) {
    return Status::InvalidArgument("--no-jitter needs --initial-ms, --multiplier and --max-ms");
  }
  if (exponential_flags == 3) {
    ExponentialBackoff exp;
    auto initial = args.Uint("initial-ms", 0, 1, max_delay_ms);
    if (!initial.ok()) return initial.status();
    auto max = args.Uint("max-ms", 0, 1, max_delay_ms);
    if (!max.ok()) return max.status();
    auto multiplier =
        ParseDouble("--multiplier", *args.Value("multiplier"), 1.0, kMaxRetryMultiplier);
    if (!multiplier.ok()) return multiplier.status();
    exp.initial = std::chrono::milliseconds(*initial);
    exp.max = std::chrono::milliseconds(*max);
    exp.multiplier = *multiplier;
    exp.jitter = !args.Has("no-jitter");
    if (exp.max < exp.initial) {
      return Status::InvalidArgument("--max-ms must not be below --initial-ms");
    }
    policy.schedule = exp;
  } else if (fixed) {
    auto delays = ParseUintList("--delays-ms", *args.Value("delays-ms"), 0, max_delay_ms);
    if (!delays.ok()) return delays.status();
    if (delays->size() > kMaxRetryDelays) {
      return Status::InvalidArgument("--delays-ms lists at most " +
                                     std::to_string(kMaxRetryDelays) + " delays");
    }
    FixedDelays schedule;
    for (uint64_t ms : *delays) schedule.delays.push_back(std::chrono::milliseconds(ms));
    policy.schedule = std::move(schedule);
  }
  auto max_attempts = args.Uint("max-attempts", 0, 1, kMaxRetryAttempts);
  if (!max_attempts.ok()) return max_attempts.status();
  policy.max_attempts = static_cast<uint32_t>(*max_attempts);
  // The library's own check, so that nothing it would refuse gets past as
  // anything but a usage error.
  HALFMQ_RETURN_IF_ERROR(client::ValidateRetryPolicy(policy));
  return policy;
}

std::string FormatGroupConfigJson(const GroupConfig& config) {
  JsonObject o;
  o.Str("group", config.group).Str("dead_letter_topic", config.dead_letter_topic);
  const auto& schedule = config.retry_policy.schedule;
  if (const auto* e = std::get_if<ExponentialBackoff>(&schedule)) {
    o.Str("schedule", "exponential")
        .Int("initial_ms", e->initial.count())
        .Double("multiplier", e->multiplier)
        .Int("max_ms", e->max.count())
        .Bool("jitter", e->jitter);
  } else if (const auto* f = std::get_if<FixedDelays>(&schedule)) {
    o.Str("schedule", "fixed").UintArray("delays_ms", DelaysMs(*f));
  } else {
    o.Str("schedule", "default");
  }
  o.Uint("max_attempts", config.retry_policy.max_attempts);
  return o.str();
}

std::string FormatGroupConfigText(const GroupConfig& config) {
  std::string retry;
  const auto& schedule = config.retry_policy.schedule;
  if (const auto* e = std::get_if<ExponentialBackoff>(&schedule)) {
    retry = "exponential initial_ms=" + std::to_string(e->initial.count()) +
            " multiplier=" + FormatDouble(e->multiplier) +
            " max_ms=" + std::to_string(e->max.count()) + " jitter=" + (e->jitter ? "on" : "off");
  } else if (const auto* f = std::get_if<FixedDelays>(&schedule)) {
    retry = "fixed delays_ms=";
    std::vector<uint64_t> delays = DelaysMs(*f);
    for (size_t i = 0; i < delays.size(); ++i) {
      retry += (i > 0 ? "," : "") + std::to_string(delays[i]);
    }
  } else {
    retry = "default";
  }
  uint32_t attempts = config.retry_policy.max_attempts;
  return "group: " + config.group + "\n" + "dead_letter_topic: " + config.dead_letter_topic + "\n" +
         "retry: " + retry + "\n" +
         "max_attempts: " + (attempts == 0 ? std::string("default") : std::to_string(attempts)) +
         "\n";
}

void AddGroupCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"group", "lag"},
      .positionals = {"GROUP"},
      .synopsis = "[--topic T] [--json]",
      .summary = "show the group's lag per queue (all its topics, or T)",
      .help =
          "  prints a table TOPIC QUEUE LAG INFLIGHT MIN END DELIVERED SKIPPED, or with\n"
          "  --json one {\"topic\",\"queue\",\"lag\",\"inflight\",\"min_offset\",\"end_offset\",\n"
          "  \"delivered_offset\",\"skipped\"} object per queue\n",
      .flags = {{"topic", FlagKind::kValue}, {"json", FlagKind::kBool}},
      .run = GroupLag,
  });
  commands->push_back(Command{
      .words = {"group", "create"},
      .positionals = {"GROUP"},
      .synopsis = "--topic T [--from earliest|latest]",
      .summary = "subscribe the group to T, from its earliest (default) or latest message",
      .help = "",
      .flags = {{"topic", FlagKind::kValue}, {"from", FlagKind::kValue}},
      .run = GroupCreate,
  });
  commands->push_back(Command{
      .words = {"group", "set-retry"},
      .positionals = {"GROUP"},
      .synopsis = "[--initial-ms MS --multiplier X --max-ms MS | --delays-ms a,b,c] "
                  "[--max-attempts N] [--no-jitter] [--json]",
      .summary = "set the group's retry policy for nacked and expired messages",
      .help = "  Replaces the group's whole retry policy. Exponential backoff: redelivery n\n"
              "  waits min(initial * multiplier^(n-1), max) ms, +-25 % jitter unless\n"
              "  --no-jitter (the three flags go together; multiplier 1..100). Fixed\n"
              "  delays: redelivery n waits the n-th delay, the last one repeating. Delays\n"
              "  are at most 43200000 ms (12 h). Without either, the broker's default\n"
              "  schedule. After --max-attempts N deliveries (1..1000; default 16) a\n"
              "  failed message moves to the group's dead-letter topic %DLQ.GROUP.\n"
              "  Prints the stored config as `group get` does.\n",
      .flags = {{"initial-ms", FlagKind::kValue},
                {"multiplier", FlagKind::kValue},
                {"max-ms", FlagKind::kValue},
                {"delays-ms", FlagKind::kValue},
                {"max-attempts", FlagKind::kValue},
                {"no-jitter", FlagKind::kBool},
                {"json", FlagKind::kBool}},
      .run = GroupSetRetry,
  });
  commands->push_back(Command{
      .words = {"group", "get"},
      .positionals = {"GROUP"},
      .synopsis = "[--json]",
      .summary = "show the group's retry policy and dead-letter topic",
      .help = "  prints `name: value` lines\n"
              "    group: GROUP\n"
              "    dead_letter_topic: %DLQ.GROUP\n"
              "    retry: exponential initial_ms=I multiplier=X max_ms=M jitter=on|off\n"
              "           (or: fixed delays_ms=a,b,c | default)\n"
              "    max_attempts: N (or: default)\n"
              "  or with --json one {\"group\",\"dead_letter_topic\",\"schedule\",...,\n"
              "  \"max_attempts\"}: schedule \"exponential\" with \"initial_ms\",\"multiplier\",\n"
              "  \"max_ms\",\"jitter\"; \"fixed\" with \"delays_ms\":[...]; or \"default\".\n"
              "  max_attempts 0 means the broker default.\n",
      .flags = {{"json", FlagKind::kBool}},
      .run = GroupGet,
  });
}

}  // namespace halfmq::cli
