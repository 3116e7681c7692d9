#include "benchmarks/bench_broker.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/process.h"

namespace halfmq::bench {

Result<std::unique_ptr<BenchBroker>> BenchBroker::Start(const std::string& argv0,
                                                        const std::vector<std::string>& flags) {
  std::filesystem::path self = std::filesystem::canonical("/proc/self/exe");
  std::string binary = (self.parent_path() / "halfmq-broker").string();
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp ? tmp : "/tmp") + "/halfmq-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return Status::Unavailable("mkdtemp failed");
  std::unique_ptr<BenchBroker> b(new BenchBroker());
  b->dir_ = tmpl;
  std::vector<std::string> args = {binary, "--listen=127.0.0.1:0", "--data_dir=" + tmpl + "/data"};
  args.insert(args.end(), flags.begin(), flags.end());
  auto child = StartAndAwaitReady(std::move(args), tmpl + "/broker.log", 60000);
  if (!child.ok()) return child.status();
  b->pid_ = child->pid;
  b->address_ = child->ready_line;
  b->watchdog_ = std::thread([raw = b.get()] { raw->Watch(); });
  return b;
}

void BenchBroker::Watch() {
  while (!stopping_.load()) {
    siginfo_t info = {};
    // WNOWAIT: Stop() still reaps it.
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid_ && !stopping_.load()) {
      std::string how = info.si_code == CLD_EXITED
                            ? "exited with status " + std::to_string(info.si_status)
                            : "was killed by signal " + std::to_string(info.si_status);
      std::ifstream log(dir_ + "/broker.log");
      std::vector<std::string> lines;
      for (std::string line; std::getline(log, line);) {
        lines.push_back(line);
        if (lines.size() > 20) lines.erase(lines.begin());
      }
      std::string tail;
      for (const auto& line : lines) tail += "  " + line + "\n";
      std::fprintf(stderr,
                   "halfmq-bench: the broker %s during the run; its data and log are in %s. "
                   "Last lines of the log:\n%s",
                   how.c_str(), dir_.c_str(), tail.c_str());
      std::fflush(stderr);
      std::_Exit(3);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void BenchBroker::AwaitQuiet() const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (std::chrono::steady_clock::now() < deadline) {
    double before = Usage().cpu_seconds;
    std::this_thread::sleep_for(std::chrono::seconds(1));  // sampling CPU, not syncing
    if (Usage().cpu_seconds - before < 0.05) return;
  }
}

BrokerUsage BenchBroker::Usage() const {
  BrokerUsage u;
  if (pid_ <= 0) return u;
  std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close_paren = content.rfind(')');
  if (close_paren != std::string::npos) {
    std::istringstream rest(content.substr(close_paren + 2));
    std::string field;
    std::vector<std::string> fields;
    while (rest >> field) fields.push_back(field);
    // After "pid (comm) ": state is field 0; utime and stime are 11 and 12.
    if (fields.size() > 12) {
      double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
      u.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    long kb = 0;
    if (std::sscanf(line.c_str(), "VmHWM: %ld kB", &kb) == 1) u.peak_rss_bytes = kb * 1024;
    if (std::sscanf(line.c_str(), "VmRSS: %ld kB", &kb) == 1) u.rss_bytes = kb * 1024;
  }
  return u;
}

void BenchBroker::Stop() {
  stopping_.store(true);
  if (watchdog_.joinable()) watchdog_.join();
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

BenchBroker::~BenchBroker() { Stop(); }

}  // namespace halfmq::bench
