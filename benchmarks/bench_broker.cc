#include "benchmarks/bench_broker.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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
  return b;
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
