#include "benchmarks/bench_broker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

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
  int ready[2];
  if (::pipe(ready) != 0) return Status::Unavailable("pipe failed");
  std::vector<std::string> args = {binary, "--listen=127.0.0.1:0", "--data_dir=" + tmpl + "/data",
                                   "--ready_fd=" + std::to_string(ready[1])};
  args.insert(args.end(), flags.begin(), flags.end());
  std::string log = tmpl + "/broker.log";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) ::dup2(fd, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(ready[1]);
  b->pid_ = pid;
  std::string line;
  char buf[128];
  pollfd pfd{ready[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos && ::poll(&pfd, 1, 60000) > 0) {
    ssize_t n = ::read(ready[0], buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(ready[0]);
  if (line.find('\n') == std::string::npos) {
    return Status::Unavailable("halfmq-broker did not start; see " + log);
  }
  b->address_ = line.substr(0, line.find('\n'));
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
