#include "tests/util/broker_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "common/process.h"

namespace halfmq::testing {

std::string BinDir() {
  const char* dir = std::getenv("HALFMQ_BIN_DIR");
  return dir ? dir : "./build/bin";
}

std::vector<std::string> TestRunBrokerFlags() {
  const char* env = std::getenv("HALFMQ_TEST_BROKER_FLAGS");
  std::istringstream in(env != nullptr ? env : "");
  std::vector<std::string> flags;
  for (std::string flag; in >> flag;) flags.push_back(flag);
  return flags;
}

std::unique_ptr<BrokerProcess> BrokerProcess::Start(const std::string& data_dir,
                                                    const std::vector<std::string>& flags) {
  std::unique_ptr<BrokerProcess> p(new BrokerProcess());
  p->log_path_ = data_dir + ".log";
  std::vector<std::string> args = {BinDir() + "/halfmq-broker", "--listen=127.0.0.1:0",
                                   "--data_dir=" + data_dir, "--stats_log_interval_s=3600"};
  std::vector<std::string> run_flags = TestRunBrokerFlags();
  args.insert(args.end(), run_flags.begin(), run_flags.end());
  args.insert(args.end(), flags.begin(), flags.end());
  auto child = StartAndAwaitReady(std::move(args), p->log_path_, 60000);
  if (!child.ok()) {
    ADD_FAILURE() << child.status().ToString() << "; log:\n" << p->LogTail();
    return nullptr;
  }
  p->pid_ = child->pid;
  p->address_ = child->ready_line;
  return p;
}

BrokerProcess::~BrokerProcess() {
  if (pid_ > 0) Kill9();
}

void BrokerProcess::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int BrokerProcess::Terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

std::string BrokerProcess::LogTail(size_t bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv_in) {
  std::vector<std::string> args = argv_in;
  if (!args.empty() && args[0].find('/') == std::string::npos) args[0] = BinDir() + "/" + args[0];
  int out[2], err[2];
  if (::pipe(out) || ::pipe(err)) return nullptr;
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  std::unique_ptr<ChildProcess> c(new ChildProcess());
  c->pid_ = pid;
  c->out_ = out[0];
  c->err_ = err[0];
  return c;
}

ChildProcess::~ChildProcess() {
  Kill9();
  if (out_ >= 0) ::close(out_);
  if (err_ >= 0) ::close(err_);
}

std::optional<std::string> ChildProcess::ReadLine(int fd, std::string* buffer, int timeout_ms) {
  for (;;) {
    auto nl = buffer->find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer->substr(0, nl);
      buffer->erase(0, nl + 1);
      return line;
    }
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return std::nullopt;
    buffer->append(buf, static_cast<size_t>(n));
  }
}

std::optional<std::string> ChildProcess::ReadStdoutLine(int timeout_ms) {
  return ReadLine(out_, &out_buffer_, timeout_ms);
}

std::optional<std::string> ChildProcess::ReadStderrLine(int timeout_ms) {
  return ReadLine(err_, &err_buffer_, timeout_ms);
}

void ChildProcess::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ChildProcess::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

CommandResult RunCommand(const std::vector<std::string>& argv_in, const std::string& stdin_data) {
  std::vector<std::string> args = argv_in;
  if (!args.empty() && args[0].find('/') == std::string::npos) args[0] = BinDir() + "/" + args[0];
  int in[2], out[2], err[2];
  if (::pipe(in) || ::pipe(out) || ::pipe(err)) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  // Feed stdin and drain both outputs with poll so that no pipe fills up.
  size_t written = 0;
  if (stdin_data.empty()) {
    ::close(in[1]);
    in[1] = -1;
  } else {
    ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  }
  CommandResult result;
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open || in[1] >= 0) {
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out[0], POLLIN, 0};
    if (err_open) fds[n++] = {err[0], POLLIN, 0};
    if (in[1] >= 0) fds[n++] = {in[1], POLLOUT, 0};
    if (::poll(fds, n, -1) < 0) break;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in[1]) {
        ssize_t w = ::write(in[1], stdin_data.data() + written, stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == stdin_data.size()) {
          ::close(in[1]);
          in[1] = -1;
        }
        continue;
      }
      ssize_t r = ::read(fds[i].fd, buf, sizeof(buf));
      bool is_out = fds[i].fd == out[0];
      if (r <= 0) {
        (is_out ? out_open : err_open) = false;
      } else {
        (is_out ? result.out : result.err).append(buf, static_cast<size_t>(r));
      }
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace halfmq::testing
