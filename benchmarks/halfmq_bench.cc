// halfmq-bench: load generator with latency histograms and delivery checks.
//
//   halfmq-bench send|txn|consume|e2e [--broker HOST:PORT] [--size BYTES]
//       [--connections N] [--inflight N] [--batch N] (--count N | --duration-s S)
//       [--rate N] [--rollback-pct P] [--unknown-pct P] [--check-answer commit|rollback]
//       [--flush sync|async] [--json]
//
// Without --broker it starts its own halfmq-broker (next to this binary) on
// 127.0.0.1 with a temporary data directory and reports that broker's CPU
// time and peak RSS. See benchmarks/README.md. The command line is
// bench_config.h, the phases bench_runs.h, the report lines bench_report.h;
// this file runs the modes.
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bench_broker.h"
#include "benchmarks/bench_config.h"
#include "benchmarks/bench_report.h"
#include "benchmarks/bench_runs.h"
#include "common/args.h"
#include "common/host_port.h"
#include "halfmq/halfmq.h"

namespace halfmq::bench {
namespace {

// Opens `n` TCP connections that send nothing. Returns their descriptors.
std::vector<int> OpenIdleConnections(const std::string& address, int n) {
  std::vector<int> fds;
  auto parsed = ParseHostPort(address);
  if (!parsed.ok()) return fds;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(parsed->port);
  if (::getaddrinfo(parsed->host.c_str(), port.c_str(), &hints, &found) != 0) return fds;
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
    if (fd < 0) break;
    if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
      ::close(fd);
      break;
    }
    fds.push_back(fd);
  }
  ::freeaddrinfo(found);
  return fds;
}

int64_t BrokerStat(const std::string& address, const std::string& name) {
  ClientOptions options;
  options.broker = address;
  auto admin = Admin::Connect(options);
  if (!admin.ok()) return -1;
  auto stats = (*admin)->GetBrokerStats();
  return stats.ok() ? (*stats)[name] : -1;
}

// Everything a mode needs: the parameters, the broker's address and the
// broker halfmq-bench started (null with --broker).
struct Bench {
  const Config& c;
  std::string address;
  BenchBroker* own = nullptr;

  void Report(const RunResult& r, const std::string& label) const {
    BrokerUsage usage;
    if (own) usage = own->Usage();
    std::fputs(FormatReport(c, r, own ? &usage : nullptr, label).c_str(), stdout);
    std::fflush(stdout);
  }
  template <typename Run>
  RunResult Measure(Run run) const {
    return Measured(own, run);
  }
};

// Creates the topic and, for the modes that consume, the group (at the
// latest offset, before producing). False (and a message) on failure.
bool PrepareTopic(const Bench& b) {
  ClientOptions options;
  options.broker = b.address;
  auto admin = Admin::Connect(options);
  if (!admin.ok()) {
    std::cerr << "halfmq-bench: " << admin.status() << "\n";
    return false;
  }
  auto created = (*admin)->CreateTopic(b.c.topic, b.c.queues);
  if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
    std::cerr << "halfmq-bench: " << created.status() << "\n";
    return false;
  }
  if (b.c.mode == "send") return true;
  Status s = (*admin)->CreateSubscription(b.c.group, b.c.topic, StartPosition::kLatest);
  if (!s.ok() && s.code() != StatusCode::kAlreadyExists) {
    std::cerr << "halfmq-bench: " << s << "\n";
    return false;
  }
  return true;
}

// Each mode returns true when it failed (errors, lost messages).

bool RunTxnMode(const Bench& b) {
  std::set<std::string> expected, forbidden;
  RunResult r = b.Measure([&] { return RunTxn(b.c, b.address, &expected, &forbidden); });
  b.Report(r, "txn");
  // Verify: every committed message consumed, none rolled back consumed.
  RunResult got =
      b.Measure([&] { return RunConsume(b.c, b.address, expected.size(), &expected, &forbidden); });
  b.Report(got, "txn-recv");
  return r.errors > 0 || got.lost > 0 || got.errors > 0;
}

bool RunRetryMode(const Bench& b) {
  RunResult fill = b.Measure([&] { return RunSend(b.c, b.address, b.c.count, 0, nullptr); });
  RunResult r = b.Measure([&] { return RunRetry(b.c, b.address, fill.ok); });
  b.Report(r, "retry");
  return r.errors > 0 || r.lost > 0;
}

bool RunDelayMode(const Bench& b) {
  double idle_cpu = 0;
  RunResult r = b.Measure([&] { return RunDelay(b.c, b.address, b.own, &idle_cpu); });
  b.Report(r, "delay");
  if (b.own) std::fprintf(stderr, "broker CPU while they were pending: %.3f s/s\n", idle_cpu);
  return r.errors > 0 || r.lost > 0;
}

// Send load alone, then with --idle-connections idle clients open.
bool RunIdleMode(const Bench& b) {
  RunResult before = b.Measure([&] { return RunSend(b.c, b.address, b.c.count, 0, nullptr); });
  b.Report(before, "send-alone");
  int64_t rss_before = b.own ? b.own->Usage().rss_bytes : -1;
  std::vector<int> fds = OpenIdleConnections(b.address, b.c.idle_connections);
  // Wait (polling the broker's own counter) until it has accepted them.
  for (int i = 0;
       i < 6000 && BrokerStat(b.address, "connections_open") < static_cast<int64_t>(fds.size());
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int64_t rss_idle = b.own ? b.own->Usage().rss_bytes : -1;
  RunResult with = b.Measure([&] { return RunSend(b.c, b.address, b.c.count, 0, nullptr); });
  b.Report(with, "send-with-idle");
  std::fprintf(stderr,
               "%zu idle connections: broker RSS %.1f MiB -> %.1f MiB (+%.1f MiB, %.1f KiB "
               "each)\n",
               fds.size(), rss_before / 1048576.0, rss_idle / 1048576.0,
               (rss_idle - rss_before) / 1048576.0,
               fds.empty() ? 0.0 : (rss_idle - rss_before) / 1024.0 / fds.size());
  for (int fd : fds) ::close(fd);
  return before.errors > 0 || with.errors > 0 ||
         static_cast<int>(fds.size()) < b.c.idle_connections;
}

struct Filled {
  uint64_t pending = 0;       // transactions left open
  double idle_cpu_per_s = 0;  // the broker's CPU while idle with them
};

// Leaves --pending transactions open (checks an hour away), waits for the
// broker to settle and measures its CPU while idle with them.
Filled FillPending(const Bench& b) {
  Config fill = b.c;
  fill.unknown_pct = 100;  // leave them all open
  fill.rollback_pct = 0;
  fill.count = b.c.pending;
  fill.duration_s = 0;
  fill.wait_for_open = false;
  fill.immunity_ms = 3600 * 1000;  // not checked during the run
  std::set<std::string> unused1, unused2;
  auto fill_start = Clock::now();
  RunResult filled = b.Measure([&] { return RunTxn(fill, b.address, &unused1, &unused2); });
  std::fprintf(stderr, "left %llu transactions pending in %.1fs\n",
               static_cast<unsigned long long>(filled.ok),
               std::chrono::duration<double>(Clock::now() - fill_start).count());
  // Let the broker finish compacting what the fill wrote: the target is
  // the steady state with that many pending, not the aftermath of writing
  // them.
  if (b.own) b.own->AwaitQuiet();
  double cpu_before = b.own ? b.own->Usage().cpu_seconds : 0;
  std::this_thread::sleep_for(std::chrono::seconds(5));  // measuring an idle period
  return {filled.ok, b.own ? (b.own->Usage().cpu_seconds - cpu_before) / 5.0 : 0};
}

// Transaction throughput with no transaction pending, then with --pending
// half messages left open. Both in steady state: a fresh broker defers all
// compaction work (its first run of transactions flushes memtables but
// compacts nothing), so the empty case runs once unmeasured first and is
// measured after the broker has settled, like the pending case after its
// fill.
bool RunPendingMode(const Bench& b) {
  {
    std::set<std::string> unused1, unused2;
    RunResult warmed = RunTxn(b.c, b.address, &unused1, &unused2);
    std::fprintf(stderr, "warm-up: %llu transactions\n",
                 static_cast<unsigned long long>(warmed.ok));
    if (b.own) b.own->AwaitQuiet();
  }
  std::set<std::string> expected, forbidden;
  RunResult empty = b.Measure([&] { return RunTxn(b.c, b.address, &expected, &forbidden); });
  b.Report(empty, "txn-empty");
  Filled filled = FillPending(b);
  std::set<std::string> expected2, forbidden2;
  Config again = b.c;
  again.wait_for_open = false;
  RunResult loaded = b.Measure([&] { return RunTxn(again, b.address, &expected2, &forbidden2); });
  b.Report(loaded, "txn-pending");
  std::fprintf(stderr,
               "with %llu pending: %.0f%% of the empty throughput; broker CPU while idle with "
               "them pending: %.3f s/s (txn_pending=%lld)\n",
               static_cast<unsigned long long>(filled.pending),
               empty.seconds > 0 && loaded.seconds > 0
                   ? 100.0 * (loaded.ok / loaded.seconds) / (empty.ok / empty.seconds)
                   : 0.0,
               filled.idle_cpu_per_s, static_cast<long long>(BrokerStat(b.address, "txn_pending")));
  return empty.errors > 0 || loaded.errors > 0;
}

bool RunConsumeMode(const Bench& b) {
  RunResult fill = b.Measure([&] { return RunSend(b.c, b.address, b.c.count, 0, nullptr); });
  if (fill.errors > 0) {
    std::cerr << "halfmq-bench: " << fill.errors << " sends failed while filling\n";
    return true;
  }
  RunResult r = b.Measure([&] { return RunConsume(b.c, b.address, fill.ok, nullptr); });
  b.Report(r, "consume");
  return r.errors > 0 || r.ok < fill.ok;
}

// Sends, then drains and checks that every acknowledged send arrived.
bool RunE2eMode(const Bench& b) {
  std::vector<std::string> ids;
  RunResult sent =
      b.Measure([&] { return RunSend(b.c, b.address, b.c.count, b.c.duration_s, &ids); });
  b.Report(sent, "e2e-send");
  std::set<std::string> must(ids.begin(), ids.end());
  RunResult got = b.Measure([&] { return RunConsume(b.c, b.address, must.size(), &must); });
  b.Report(got, "e2e-recv");
  return sent.errors > 0 || got.lost > 0;
}

bool RunMode(const Bench& b) {
  if (b.c.mode == "send") {
    RunResult r =
        b.Measure([&] { return RunSend(b.c, b.address, b.c.count, b.c.duration_s, nullptr); });
    b.Report(r, "send");
    return r.errors > 0;
  }
  if (b.c.mode == "txn") return RunTxnMode(b);
  if (b.c.mode == "retry") return RunRetryMode(b);
  if (b.c.mode == "delay") return RunDelayMode(b);
  if (b.c.mode == "idle") return RunIdleMode(b);
  if (b.c.mode == "pending") return RunPendingMode(b);
  if (b.c.mode == "consume") return RunConsumeMode(b);
  return RunE2eMode(b);
}

int Main(int argc, char** argv) {
  auto config = ParseConfig(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) {
    std::cerr << "halfmq-bench: " << config.status().message() << "\n" << UsageText();
    return kExitUsage;
  }
  const Config& c = *config;
  std::unique_ptr<BenchBroker> own;
  Bench bench{c, c.broker, nullptr};
  if (bench.address.empty()) {
    // Short check delay so that transactions left open settle within a run.
    std::vector<std::string> flags = {"--flush=" + c.flush, "--txn_check_delay_ms=500",
                                      "--txn_check_backoff_max_ms=1000"};
    flags.insert(flags.end(), c.broker_flags.begin(), c.broker_flags.end());
    auto started = BenchBroker::Start(argv[0], flags);
    if (!started.ok()) {
      std::cerr << "halfmq-bench: " << started.status() << "\n";
      return 1;
    }
    own = std::move(started).value();
    bench.own = own.get();
    bench.address = own->address();
  }
  if (!PrepareTopic(bench)) return 1;
  bool failed = RunMode(bench);
  if (own) own->Stop();
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace halfmq::bench

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  return halfmq::bench::Main(argc, argv);
}
