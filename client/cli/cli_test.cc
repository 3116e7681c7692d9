// Command-line handling: usage errors, help and exit codes without a broker;
// output order under out-of-order answers against a scripted FakeBroker.
// tests/integration/cli_test.cc covers the commands against a real broker.
#include "client/cli/cli.h"

#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "client/fake_broker.h"
#include "common/args.h"
#include "common/asio.h"
#include "common/version.h"

namespace halfmq::cli {
namespace {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

CliRun RunArgs(const std::vector<std::string>& args, std::string stdin_text = "",
               std::optional<std::string> env_broker = std::nullopt) {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  CliEnv env;
  env.in = &in;
  env.out = &out;
  env.err = &err;
  env.broker = std::move(env_broker);
  int code = RunCli(args, env);
  return {code, out.str(), err.str()};
}

// A loopback port with nothing listening: bound once, then released.
std::string ClosedBrokerAddress() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  unsigned short port = acceptor.local_endpoint().port();
  acceptor.close();
  return "127.0.0.1:" + std::to_string(port);
}

TEST(CliTest, HelpExitsZeroWithUsageOnStdout) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"--broker", "h:1", "--help"}}) {
    CliRun r = RunArgs(args);
    EXPECT_EQ(r.code, kExitOk);
    EXPECT_NE(r.out.find("usage: halfmq"), std::string::npos);
    EXPECT_NE(r.out.find("topic create NAME [--queues N]"), std::string::npos);
    EXPECT_NE(r.out.find("consume TOPIC --group G"), std::string::npos);
    EXPECT_NE(r.out.find("[--txn commit|rollback|unknown [--producer-group PG] "
                         "[--check-answer commit|rollback|unknown] [--serve-checks-ms MS]]"),
              std::string::npos);
    EXPECT_NE(r.out.find("txn list [--state pending|unresolved] [--json]"), std::string::npos);
    EXPECT_NE(r.out.find("txn commit TXN_ID\n"), std::string::npos);
    EXPECT_NE(r.out.find("txn rollback TXN_ID\n"), std::string::npos);
    // The issue-4 shapes scripts rely on.
    for (const char* shape : {
             "group set-retry GROUP [--initial-ms MS --multiplier X --max-ms MS | --delays-ms "
             "a,b,c] [--max-attempts N] [--no-jitter]",
             "group get GROUP [--json]",
             "[--no-ack | --nack [--reason TEXT]] [--tag-filter EXPR]",
             "[--message-id ID] [--delay-ms MS | --deliver-at RFC3339] [--message-group G]",
             "topic create NAME [--queues N] [--fifo]",
             "dlq list GROUP [--all] [--json]",
             "dlq redrive GROUP [--ids ID,...] [--to TOPIC] [--rate N]",
             "msg get ID [--topic T] [--json]",
             "msg find --topic T --key K [--limit N] [--json]",
             "msg trace ID [--json]",
         }) {
      EXPECT_NE(r.out.find(shape), std::string::npos) << shape;
    }
    EXPECT_TRUE(r.err.empty());
  }
}

TEST(CliTest, VersionPrintsTheGeneratedVersionAndExitsZero) {
  CliRun r = RunArgs({"--version"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, std::string("halfmq version ") + kHalfmqVersion + "\n");
  EXPECT_TRUE(r.err.empty()) << r.err;
  // Before the command, like the other global flags, and with a broker given.
  r = RunArgs({"--broker", "h:1", "--version"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, std::string("halfmq version ") + kHalfmqVersion + "\n");
}

TEST(CliTest, CommandHelpShowsItsUsage) {
  CliRun r = RunArgs({"send", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("usage: halfmq [--broker HOST:PORT] send TOPIC"), std::string::npos);
  r = RunArgs({"--help", "group", "lag"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("group lag GROUP"), std::string::npos);
  r = RunArgs({"topic", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("topic list"), std::string::npos);
  EXPECT_EQ(r.out.find("consume TOPIC"), std::string::npos);  // only the topic group
}

TEST(CliTest, UsageErrorsExitTwoWithMessageOnStderr) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "missing command"},
           {{"frobnicate"}, "unknown command 'frobnicate'"},
           {{"topic"}, "missing subcommand after 'topic'"},
           {{"topic", "drop", "x"}, "unknown subcommand 'topic drop'"},
           {{"topic", "create"}, "missing NAME"},
           {{"topic", "create", "a", "b"}, "unexpected argument 'b'"},
           {{"topic", "create", "a", "--queues", "many"}, "--queues must be an integer"},
           {{"topic", "create", "a", "--queues", "0"}, "--queues must be an integer in 1..256"},
           {{"topic", "list", "--bogus"}, "unknown flag '--bogus'"},
           {{"--bogus", "topic", "list"}, "unknown flag '--bogus'"},
           {{"--broker"}, "'--broker' needs a value"},
           {{"--broker", "nohost", "stats"}, "broker address 'nohost'"},
           {{"stats", "--broker", "h:99999"}, "port outside"},
           {{"send", "t"}, "exactly one of --body and --lines"},
           {{"send", "t", "--body", "x", "--lines"}, "exactly one of --body and --lines"},
           {{"send", "t", "--body", "x", "--property", "novalue"}, "is not NAME=VALUE"},
           {{"send", "t", "--body"}, "'--body' needs a value"},
           {{"consume", "t"}, "missing --group"},
           {{"consume", "t", "--group", "g", "--max", "0"}, "--max must be an integer"},
           {{"consume", "t", "--group", "g", "--wait-ms", "60001"}, "--wait-ms"},
           {{"group", "create", "g"}, "missing --topic"},
           {{"group", "create", "g", "--topic", "t", "--from", "middle"}, "--from must be"},
           {{"group", "lag"}, "missing GROUP"},
           {{"send", "t", "--body", "x", "--check-answer", "commit"}, "--check-answer needs --txn"},
           {{"send", "t", "--body", "x", "--serve-checks-ms", "10"},
            "--serve-checks-ms needs --txn"},
           {{"send", "t", "--body", "x", "--producer-group", "pg"}, "--producer-group needs --txn"},
           {{"send", "t", "--body", "x", "--txn", "maybe"},
            "--txn must be commit, rollback or unknown, not 'maybe'"},
           {{"send", "t", "--body", "x", "--txn"}, "'--txn' needs a value"},
           {{"send", "t", "--body", "x", "--txn", "commit", "--txn", "rollback"},
            "'--txn' given more than once"},
           {{"send", "t", "--body", "x", "--txn", "commit", "--check-answer", "yes"},
            "--check-answer must be commit, rollback or unknown"},
           {{"send", "t", "--body", "x", "--txn", "unknown", "--serve-checks-ms", "-1"},
            "--serve-checks-ms must be an integer"},
           {{"send", "t", "--body", "x", "--txn", "unknown", "--serve-checks-ms", "86400001"},
            "--serve-checks-ms must be an integer in 0..86400000"},
           {{"send", "t", "--txn", "commit"}, "exactly one of --body and --lines"},
           {{"txn"}, "missing subcommand after 'txn'"},
           {{"txn", "abort", "x"}, "unknown subcommand 'txn abort'"},
           {{"txn", "commit"}, "missing TXN_ID"},
           {{"txn", "rollback", "a", "b"}, "unexpected argument 'b'"},
           {{"txn", "list", "--state", "done"},
            "--state must be pending or unresolved, not 'done'"},
           {{"txn", "list", "extra"}, "unexpected argument 'extra'"},
           // send: ids, delays, groups
           {{"send", "t", "--lines", "--message-id", "m1"}, "--message-id needs --body"},
           {{"send", "t", "--body", "x", "--message-id", "a", "--message-id", "b"},
            "'--message-id' given more than once"},
           {{"send", "t", "--body", "x", "--delay-ms", "10", "--deliver-at",
             "2026-11-27T10:00:00Z"},
            "give at most one of --delay-ms and --deliver-at"},
           {{"send", "t", "--body", "x", "--delay-ms", "-1"}, "--delay-ms must be an integer"},
           {{"send", "t", "--body", "x", "--delay-ms", "1.5"}, "--delay-ms must be an integer"},
           {{"send", "t", "--body", "x", "--delay-ms", "4294967296"},
            "--delay-ms must be an integer in 0..4294967295"},
           {{"send", "t", "--body", "x", "--deliver-at", "tomorrow"},
            "--deliver-at: 'tomorrow' is not an RFC 3339 time"},
           {{"send", "t", "--body", "x", "--deliver-at", "2026-11-27T10:00:00"}, "needs a zone"},
           {{"send", "t", "--body", "x", "--deliver-at", "2026-02-30T10:00:00Z"},
            "day out of range"},
           {{"send", "t", "--body", "x", "--deliver-at", "1969-12-31T23:59:59Z"},
            "--deliver-at must be after 1970"},
           {{"send", "t", "--body", "x", "--deliver-at", "1970-01-01T00:00:00Z"},
            "--deliver-at must be after 1970"},
           {{"send", "t", "--body", "x", "--message-group"}, "'--message-group' needs a value"},
           // consume: nack, reason, tag filter
           {{"consume", "t", "--group", "g", "--reason", "r"}, "--reason needs --nack"},
           {{"consume", "t", "--group", "g", "--nack", "--no-ack"},
            "give at most one of --nack and --no-ack"},
           {{"consume", "t", "--group", "g", "--nack=yes"}, "'--nack' takes no value"},
           {{"consume", "t", "--group", "g", "--tag-filter"}, "'--tag-filter' needs a value"},
           // topic create --fifo
           {{"topic", "create", "t", "--fifo=true"}, "'--fifo' takes no value"},
           // group set-retry / get
           {{"group", "set-retry"}, "missing GROUP"},
           {{"group", "set-retry", "g", "--initial-ms", "100"},
            "--initial-ms, --multiplier and --max-ms go together"},
           {{"group", "set-retry", "g", "--initial-ms", "1", "--multiplier", "2", "--max-ms", "10",
             "--delays-ms", "1,2"},
            "not both"},
           {{"group", "set-retry", "g", "--no-jitter"}, "--no-jitter needs"},
           {{"group", "set-retry", "g", "--delays-ms", "1,,2"}, "--delays-ms has an empty element"},
           {{"group", "set-retry", "g", "--initial-ms", "1", "--multiplier", "x", "--max-ms", "10"},
            "--multiplier must be a number in 1..100, not 'x'"},
           {{"group", "set-retry", "g", "--max-attempts", "0"},
            "--max-attempts must be an integer in 1..1000"},
           {{"group", "get"}, "missing GROUP"},
           {{"group", "get", "g", "h"}, "unexpected argument 'h'"},
           // dlq
           {{"dlq"}, "missing subcommand after 'dlq'"},
           {{"dlq", "purge", "g"}, "unknown subcommand 'dlq purge'"},
           {{"dlq", "list"}, "missing GROUP"},
           {{"dlq", "list", "g", "--all=1"}, "'--all' takes no value"},
           {{"dlq", "redrive"}, "missing GROUP"},
           {{"dlq", "redrive", "g", "--ids", ""}, "--ids has an empty element"},
           {{"dlq", "redrive", "g", "--ids", "a,,b"}, "--ids has an empty element"},
           {{"dlq", "redrive", "g", "--ids", "a,b", "--ids", "a"}, "--ids names 'a' twice"},
           {{"dlq", "redrive", "g", "--rate", "0"}, "--rate must be an integer in 1..1000000"},
           {{"dlq", "redrive", "g", "--rate", "fast"}, "--rate must be an integer"},
           {{"dlq", "redrive", "g", "--to"}, "'--to' needs a value"},
           // msg
           {{"msg"}, "missing subcommand after 'msg'"},
           {{"msg", "get"}, "missing ID"},
           {{"msg", "get", "a", "b"}, "unexpected argument 'b'"},
           {{"msg", "find", "--key", "k"}, "missing --topic"},
           {{"msg", "find", "--topic", "t"}, "missing --key"},
           {{"msg", "find", "--topic", "t", "--key", "k", "--limit", "0"},
            "--limit must be an integer in 1..1000"},
           {{"msg", "find", "--topic", "t", "--key", "k", "x"}, "unexpected argument 'x'"},
           {{"msg", "trace"}, "missing ID"},
       }) {
    CliRun r = RunArgs(c.args);
    EXPECT_EQ(r.code, kExitUsage) << c.message;
    EXPECT_EQ(r.err.rfind("halfmq: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("usage: "), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(CliTest, UnreachableBrokerExitsOneWithStatusLine) {
  std::string broker = ClosedBrokerAddress();
  CliRun r = RunArgs({"--broker", broker, "topic", "list"});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.err.rfind("halfmq: UNAVAILABLE: cannot connect to broker " + broker, 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliTest, TransactionCommandsWithoutABrokerExitOne) {
  std::string broker = ClosedBrokerAddress();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"txn", "list"},
           {"txn", "commit", "t1"},
           {"send", "t", "--body", "x", "--txn", "commit", "--check-answer", "rollback"},
       }) {
    std::vector<std::string> full = {"--broker", broker};
    full.insert(full.end(), args.begin(), args.end());
    CliRun r = RunArgs(full);
    EXPECT_EQ(r.code, kExitError) << args[0];
    EXPECT_EQ(r.err.rfind("halfmq: UNAVAILABLE: cannot connect to broker " + broker, 0), 0u)
        << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST(CliTest, NewCommandsWithoutABrokerExitOne) {
  // Every one of these passes flag parsing and fails only at the connect,
  // which retries with backoff for about a second: run them side by side.
  std::string broker = ClosedBrokerAddress();
  const std::vector<std::vector<std::string>> commands = {
      {"group", "set-retry", "g", "--delays-ms", "10,20", "--max-attempts", "3"},
      {"group", "get", "g"},
      {"dlq", "list", "g", "--all"},
      {"dlq", "redrive", "g", "--ids", "a,b", "--rate", "5"},
      {"msg", "get", "m1"},
      {"msg", "find", "--topic", "t", "--key", "k"},
      {"msg", "trace", "m1", "--json"},
      {"send", "t", "--body", "x", "--message-id", "order-1", "--deliver-at",
       "2026-11-27T11:00:00+01:00", "--message-group", "g"},
      {"consume", "t", "--group", "g", "--nack", "--reason", "r", "--tag-filter", "a||b"},
      {"topic", "create", "t", "--fifo"},
  };
  std::vector<CliRun> runs(commands.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < commands.size(); ++i) {
    threads.emplace_back([&runs, &commands, &broker, i] {
      std::vector<std::string> full = {"--broker", broker};
      full.insert(full.end(), commands[i].begin(), commands[i].end());
      runs[i] = RunArgs(full);
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < commands.size(); ++i) {
    const CliRun& r = runs[i];
    EXPECT_EQ(r.code, kExitError) << commands[i][0] << " " << commands[i][1] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("halfmq: UNAVAILABLE: cannot connect to broker " + broker, 0), 0u)
        << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST(CliTest, NewCommandsHaveHelp) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"group", "set-retry", "--help"},
           {"group", "get", "--help"},
           {"dlq", "list", "--help"},
           {"dlq", "redrive", "--help"},
           {"msg", "get", "--help"},
           {"msg", "find", "--help"},
           {"msg", "trace", "--help"},
       }) {
    CliRun r = RunArgs(args);
    EXPECT_EQ(r.code, kExitOk) << args[0] << " " << args[1];
    EXPECT_NE(r.out.find("usage: halfmq [--broker HOST:PORT] " + args[0] + " " + args[1]),
              std::string::npos)
        << r.out;
    EXPECT_GT(r.out.size(), 200u) << r.out;  // more than the synopsis
  }
  CliRun r = RunArgs({"dlq", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("dlq list"), std::string::npos);
  EXPECT_NE(r.out.find("dlq redrive"), std::string::npos);
  EXPECT_EQ(r.out.find("msg get"), std::string::npos);
}

TEST(CliTest, BrokerComesFromFlagThenEnvironment) {
  std::string closed = ClosedBrokerAddress();
  // The environment is used when no flag is given...
  CliRun r = RunArgs({"stats"}, "", closed);
  EXPECT_EQ(r.code, kExitError);
  EXPECT_NE(r.err.find(closed), std::string::npos) << r.err;
  // ...and the flag (before or after the command) wins over it.
  r = RunArgs({"stats", "--broker", closed}, "", "bad-address");
  EXPECT_EQ(r.code, kExitError);
  EXPECT_NE(r.err.find(closed), std::string::npos) << r.err;
  r = RunArgs({"stats"}, "", "bad-address");
  EXPECT_EQ(r.code, kExitUsage);
}

}  // namespace
}  // namespace halfmq::cli

namespace halfmq::cli {
namespace {

using client::testing::FakeBroker;

TEST(CliBrokerTest, SendLinesPrintsInInputOrderWhateverTheAnswerOrder) {
  FakeBroker broker;
  CliRun run;
  std::thread cli([&] {
    run = RunArgs({"--broker", broker.address(), "send", "orders", "--key", "k", "--property",
                   "a=b=c", "--lines", "--json"},
                  "first\nsecond\n\nfourth");
  });
  std::vector<FakeBroker::Received> sends;
  for (int i = 0; i < 4; ++i) {
    auto r = broker.Next();
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->frame.has_send());
    sends.push_back(*r);
  }
  std::set<std::string> bodies;
  for (const auto& s : sends) {
    const v1::Message& m = s.frame.send().messages(0);
    bodies.insert(m.body());
    EXPECT_EQ(m.keys(0), "k");
    EXPECT_EQ(m.properties().at("a"), "b=c");
  }
  EXPECT_EQ(bodies, (std::set<std::string>{"first", "second", "", "fourth"}));
  // Answer in reverse order; the offset tells which line a result is for.
  for (int i = 3; i >= 0; --i) {
    const v1::Message& m = sends[i].frame.send().messages(0);
    v1::Frame response;
    v1::SendResult* result = response.mutable_send_response()->add_results();
    result->set_message_id(m.message_id());
    result->set_topic("orders");
    result->set_queue_id(1);
    result->set_offset(static_cast<uint64_t>(i));
    broker.Reply(sends[i], response);
  }
  cli.join();
  EXPECT_EQ(run.code, kExitOk) << run.err;
  std::istringstream lines(run.out);
  std::string line;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(std::getline(lines, line));
    std::string id = sends[i].frame.send().messages(0).message_id();
    EXPECT_EQ(line, "{\"message_id\":\"" + id + "\",\"topic\":\"orders\",\"queue\":1,\"offset\":" +
                        std::to_string(i) + "}");
  }
  EXPECT_FALSE(std::getline(lines, line));
}

// Everything else about send and consume runs against a real broker in
// tests/integration/cli_test.cc; the scripted broker above is only for the
// answer order a real broker cannot be made to produce on demand.

}  // namespace
}  // namespace halfmq::cli
