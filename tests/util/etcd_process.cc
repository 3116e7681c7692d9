#include "tests/util/etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace halfmq::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string FindEtcdBinary() {
  if (const char* env = std::getenv("HALFMQ_ETCD"); env != nullptr && *env != '\0') {
    return ::access(env, X_OK) == 0 ? env : "";
  }
  std::istringstream path(std::getenv("PATH") != nullptr ? std::getenv("PATH") : "");
  for (std::string dir; std::getline(path, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/etcd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  if (::access("/usr/bin/etcd", X_OK) == 0) return "/usr/bin/etcd";
  return "";
}

int ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether GET /health on the client port answers {"health":"true"} within
// `timeout_ms`: etcd serves it once the member has a leader.
bool Healthy(uint16_t port, int timeout_ms) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return false;
  const std::string request =
      "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  bool sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(request.size());
  std::string answer;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (sent && Clock::now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) break;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer.find(" 200 ") != std::string::npos &&
         answer.find("\"health\":\"true\"") != std::string::npos;
}

}  // namespace

uint16_t PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::unique_ptr<EtcdProcess> EtcdProcess::Start(const std::string& dir) {
  const std::string binary = FindEtcdBinary();
  if (binary.empty()) {
    ADD_FAILURE() << "etcd not found ($HALFMQ_ETCD if set, else on PATH or /usr/bin/etcd): "
                     "run scripts/install-deps.sh, which installs etcd-server";
    return nullptr;
  }
  std::unique_ptr<EtcdProcess> p(new EtcdProcess());
  p->log_path_ = dir + "/etcd.log";
  // A port picked free may be taken by someone else before etcd binds it.
  constexpr int kAttempts = 3;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (p->TryStart(binary, dir, attempt)) return p;
  }
  ADD_FAILURE() << "etcd did not become healthy after " << kAttempts << " attempts; log:\n"
                << p->LogTail();
  return nullptr;
}

bool EtcdProcess::TryStart(const std::string& binary, const std::string& dir, int attempt) {
  client_port_ = PickFreePort();
  peer_port_ = PickFreePort();
  while (peer_port_ == client_port_) peer_port_ = PickFreePort();
  const std::string name = "halfmq-test-" + std::to_string(attempt);
  const std::string client_url = "http://" + client_address();
  const std::string peer_url = "http://" + peer_address();
  std::vector<std::string> args = {binary,
                                   "--name=" + name,
                                   "--data-dir=" + dir + "/etcd-data-" + std::to_string(attempt),
                                   "--listen-client-urls=" + client_url,
                                   "--advertise-client-urls=" + client_url,
                                   "--listen-peer-urls=" + peer_url,
                                   "--initial-advertise-peer-urls=" + peer_url,
                                   "--initial-cluster=" + name + "=" + peer_url,
                                   "--initial-cluster-state=new",
                                   "--initial-cluster-token=" + name + "-" + dir};
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return false;
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (pid < 0) return false;
  pid_ = pid;
  // Polled: etcd offers no readiness event. Bounded in attempts and time.
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  for (int probe = 0; probe < 3000 && Clock::now() < deadline; ++probe) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: e.g. port taken
      pid_ = -1;
      return false;
    }
    if (Healthy(client_port_, 1000)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill9();
  return false;
}

EtcdProcess::~EtcdProcess() { Kill9(); }

std::string EtcdProcess::client_address() const {
  return "127.0.0.1:" + std::to_string(client_port_);
}

std::string EtcdProcess::peer_address() const { return "127.0.0.1:" + std::to_string(peer_port_); }

void EtcdProcess::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string EtcdProcess::LogTail(size_t bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

}  // namespace halfmq::testing
