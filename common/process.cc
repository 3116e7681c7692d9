#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace halfmq {

Result<ReadyChild> StartAndAwaitReady(std::vector<std::string> args, const std::string& log_path,
                                      int timeout_ms) {
  if (args.empty()) return Status::InvalidArgument("no program to start");
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return Status::Unavailable("pipe failed");
  args.push_back("--ready_fd=" + std::to_string(ready[1]));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(ready[0]);
    ::close(ready[1]);
    return Status::Unavailable("fork failed");
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    ::fcntl(ready[1], F_SETFD, 0);  // the child keeps the write end
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(ready[1]);
  std::string line;
  char buf[128];
  pollfd pfd{ready[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos) {
    if (::poll(&pfd, 1, timeout_ms) <= 0) break;
    ssize_t n = ::read(ready[0], buf, sizeof(buf));
    if (n <= 0) break;  // the child exited without writing the line
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(ready[0]);
  auto nl = line.find('\n');
  if (nl == std::string::npos) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return Status::Unavailable(args[0] + " did not become ready; see " + log_path);
  }
  return ReadyChild{pid, line.substr(0, nl)};
}

}  // namespace halfmq
