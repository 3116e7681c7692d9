// `halfmq dlq list|redrive`: a consumer group's dead letters.
#include <algorithm>
#include <iostream>
#include <set>
#include <thread>

#include "client/cli/command.h"
#include "client/cli/dlq.h"
#include "client/cli/msg.h"
#include "common/json.h"

namespace halfmq::cli {
namespace {

// Dead letters fetched per ListDeadLetters request.
constexpr uint32_t kListPage = 1000;

int DlqList(const ParsedArgs& args, Context& ctx) {
  const std::string& group = args.positionals()[0];
  bool all = args.Has("all");
  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  std::vector<DeadLetter> dead_letters;
  std::string after;
  for (;;) {
    auto page = (*admin)->ListDeadLetters(group, kListPage, after, all);
    if (!page.ok()) return ctx.Fail(page.status());
    // A page may end early (the broker bounds its bytes): stop only at an
    // empty one.
    if (page->empty()) break;
    for (DeadLetter& d : *page) dead_letters.push_back(std::move(d));
    // The last id must move forward; anything else would loop forever.
    if (dead_letters.back().message_id <= after) break;
    after = dead_letters.back().message_id;
  }
  if (args.Has("json")) {
    for (const DeadLetter& d : dead_letters) *ctx.out << FormatDeadLetterJson(d) << "\n";
  } else {
    *ctx.out << FormatDeadLetterTable(dead_letters, all);
  }
  return kExitOk;
}

// Runs Redrive requests at most at --rate dead letters per second, sleeping
// (never spinning) between them.
class Pacer {
 public:
  explicit Pacer(uint64_t rate) : rate_(rate) {}

  // Waits until the next request may start.
  void Wait() {
    if (rate_ > 0) std::this_thread::sleep_until(next_);
    started_ = std::chrono::steady_clock::now();
  }
  // Charges the request begun by the last Wait() with `count` dead letters.
  void Charge(size_t count) { next_ = started_ + RedriveInterval(count, rate_); }

 private:
  const uint64_t rate_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point next_ = std::chrono::steady_clock::now();
};

int DlqRedrive(const ParsedArgs& args, Context& ctx) {
  const std::string& group = args.positionals()[0];
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (const std::string& value : args.Values("ids")) {
    auto list = ParseList("--ids", value);
    if (!list.ok()) return ctx.Usage(list.status().message());
    for (std::string& id : *list) {
      if (!seen.insert(id).second) return ctx.Usage("--ids names '" + id + "' twice");
      ids.push_back(std::move(id));
    }
  }
  auto rate = args.Uint("rate", 0, 1, kMaxRedriveRate);
  if (!rate.ok()) return ctx.Usage(rate.status().message());
  std::string to_topic = args.Value("to").value_or("");
  bool json = args.Has("json");
  const uint32_t batch = RedriveBatchSize(*rate);

  auto admin = Admin::Connect(ctx.options);
  if (!admin.ok()) return ctx.Fail(admin.status());
  Pacer pacer(*rate);
  bool failed = false;
  std::set<std::string> reported;  // failed ids already printed
  // Prints a request's results; returns whether any dead letter moved.
  auto print = [&](const std::vector<RedriveResult>& results) {
    bool progress = false;
    for (const RedriveResult& r : results) {
      if (r.status.ok()) {
        progress = true;
        *ctx.out << FormatRedriveResult(r, json) << "\n";
        continue;
      }
      failed = true;
      // Without ids, a dead letter that fails stays first in line and comes
      // back with every request; report it once.
      if (!reported.insert(r.message_id).second) continue;
      (json ? *ctx.out : *ctx.err) << FormatRedriveResult(r, json) << "\n";
    }
    ctx.out->flush();
    return progress;
  };

  if (!ids.empty()) {
    for (size_t start = 0; start < ids.size(); start += batch) {
      std::vector<std::string> chunk(
          ids.begin() + static_cast<long>(start),
          ids.begin() + static_cast<long>(std::min(ids.size(), start + batch)));
      pacer.Wait();
      auto results = (*admin)->Redrive(group, chunk, to_topic);
      if (!results.ok()) return ctx.Fail(results.status());
      pacer.Charge(chunk.size());
      print(*results);
    }
  } else {
    // Everything not yet redriven, a batch at a time, until the broker has
    // none left, or only ones that keep failing.
    for (;;) {
      pacer.Wait();
      auto results = (*admin)->Redrive(group, {}, to_topic, batch);
      if (!results.ok()) return ctx.Fail(results.status());
      if (results->empty()) break;
      pacer.Charge(results->size());
      if (!print(*results)) break;
    }
  }
  return failed ? kExitError : kExitOk;
}

}  // namespace

uint32_t RedriveBatchSize(uint64_t rate) {
  if (rate == 0) return kRedriveBatch;
  return static_cast<uint32_t>(std::min<uint64_t>(kRedriveBatch, rate));
}

std::chrono::nanoseconds RedriveInterval(size_t count, uint64_t rate) {
  if (rate == 0) return std::chrono::nanoseconds(0);
  // count <= kMaxRedriveBatch and 1e9 * count fits easily in 64 bits.
  return std::chrono::nanoseconds(static_cast<int64_t>(uint64_t{1000000000} * count / rate));
}

std::string FormatDeadLetterJson(const DeadLetter& d) {
  return JsonObject()
      .Str("message_id", d.message_id)
      .Str("original_topic", d.info.original_topic)
      .Uint("original_queue", d.info.original_queue)
      .Uint("original_offset", d.info.original_offset)
      .Uint("attempts", d.info.attempts)
      .Str("reason", d.info.reason)
      .Int("dead_lettered_ms", d.info.dead_lettered_ms)
      .Str("dead_letter_topic", d.dead_letter_topic)
      .Uint("queue", d.queue_id)
      .Uint("offset", d.offset)
      .Int("redriven_ms", d.redriven_ms)
      .Str("redriven_to", d.redriven_to)
      .str();
}

std::string FormatDeadLetterTable(const std::vector<DeadLetter>& dead_letters, bool with_redriven) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"MESSAGE_ID", "ORIGINAL_TOPIC", "QUEUE",
                                     "OFFSET",     "ATTEMPTS",       "DEAD_LETTERED"};
  if (with_redriven) {
    header.push_back("REDRIVEN");
    header.push_back("REDRIVEN_TO");
  }
  header.push_back("REASON");
  rows.push_back(std::move(header));
  for (const DeadLetter& d : dead_letters) {
    std::vector<std::string> row = {d.message_id,
                                    d.info.original_topic,
                                    std::to_string(d.info.original_queue),
                                    std::to_string(d.info.original_offset),
                                    std::to_string(d.info.attempts),
                                    FormatTimeMs(d.info.dead_lettered_ms)};
    if (with_redriven) {
      row.push_back(d.redriven_ms == 0 ? "-" : FormatTimeMs(d.redriven_ms));
      row.push_back(OneLine(d.redriven_to));
    }
    row.push_back(OneLine(d.info.reason));
    rows.push_back(std::move(row));
  }
  return FormatTable(rows);
}

std::string FormatRedriveResult(const RedriveResult& r, bool json) {
  if (json) {
    JsonObject o;
    o.Str("message_id", r.message_id).Str("status", StatusCodeName(r.status.code()));
    if (r.status.ok()) {
      o.Str("topic", r.topic).Uint("queue", r.queue_id).Uint("offset", r.offset);
    } else {
      o.Str("error", r.status.message());
    }
    return o.str();
  }
  if (!r.status.ok())
    return "halfmq: redrive of " + r.message_id + " failed: " + r.status.ToString();
  return "redriven " + r.message_id + " -> " + r.topic + " queue=" + std::to_string(r.queue_id) +
         " offset=" + std::to_string(r.offset);
}

void AddDlqCommands(std::vector<Command>* commands) {
  commands->push_back(Command{
      .words = {"dlq", "list"},
      .positionals = {"GROUP"},
      .synopsis = "[--all] [--json]",
      .summary = "list the group's dead letters (not yet redriven; --all: every one)",
      .help = "  prints a table MESSAGE_ID ORIGINAL_TOPIC QUEUE OFFSET ATTEMPTS\n"
              "  DEAD_LETTERED [REDRIVEN REDRIVEN_TO] REASON (UTC; the REDRIVEN columns with\n"
              "  --all), or with --json one {\"message_id\",\"original_topic\",\n"
              "  \"original_queue\",\"original_offset\",\"attempts\",\"reason\",\n"
              "  \"dead_lettered_ms\",\"dead_letter_topic\",\"queue\",\"offset\",\"redriven_ms\",\n"
              "  \"redriven_to\"} per dead letter, in message id order (queue and offset are\n"
              "  its place in the dead-letter topic %DLQ.GROUP; redriven_ms is 0 and\n"
              "  redriven_to \"\" if it was not redriven). All pages are fetched.\n",
      .flags = {{"all", FlagKind::kBool}, {"json", FlagKind::kBool}},
      .run = DlqList,
  });
  commands->push_back(Command{
      .words = {"dlq", "redrive"},
      .positionals = {"GROUP"},
      .synopsis = "[--ids ID,...] [--to TOPIC] [--rate N] [--json]",
      .summary = "send the group's dead letters back (all not yet redriven, or --ids)",
      .help =
          "  Each dead letter is redriven at most once. Without --to it goes back to its\n"
          "  original topic for this group only, with attempts reset; with --to TOPIC it\n"
          "  becomes a new message of TOPIC for every group subscribed to it. --ids\n"
          "  (comma-separated; may be repeated) names the dead letters; without it,\n"
          "  every dead letter not yet redriven, oldest first, until none are left.\n"
          "  --rate N redrives at most N per second (requests of up to min(100, N)).\n"
          "  Prints `redriven ID -> TOPIC queue=Q offset=O` per dead letter as it goes;\n"
          "  failures go to stderr as `halfmq: redrive of ID failed: CODE: message`\n"
          "  (NOT_FOUND: no such dead letter; FAILED_PRECONDITION: already redriven).\n"
          "  With --json every result goes to stdout as {\"message_id\",\"status\":\"OK\",\n"
          "  \"topic\",\"queue\",\"offset\"} or {\"message_id\",\"status\":\"CODE\",\"error\"}.\n"
          "  Exits 1 if any failed.\n",
      .flags = {{"ids", FlagKind::kRepeated},
                {"to", FlagKind::kValue},
                {"rate", FlagKind::kValue},
                {"json", FlagKind::kBool}},
      .run = DlqRedrive,
  });
}

}  // namespace halfmq::cli
