// Starting a halfmq program as a child process and waiting until it says it
// is ready. Shared by the integration tests and halfmq-bench, which both run
// real halfmq-broker processes on 127.0.0.1.

#ifndef HALFMQ_COMMON_PROCESS_H_
#define HALFMQ_COMMON_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace halfmq {

struct ReadyChild {
  pid_t pid = -1;
  std::string ready_line;  // what the child wrote to its ready fd, without '\n'
};

// Forks and executes `args` (args[0] is a path) with "--ready_fd=<fd>"
// appended and stdout/stderr appended to `log_path`, then waits for one line
// on that fd: the program writes it once it serves (halfmq-broker writes its
// listen address). Event-driven; `timeout_ms` only turns a child that never
// becomes ready into an error. On error the child has been killed and reaped.
// Errors: UNAVAILABLE.
Result<ReadyChild> StartAndAwaitReady(std::vector<std::string> args, const std::string& log_path,
                                      int timeout_ms);

}  // namespace halfmq

#endif  // HALFMQ_COMMON_PROCESS_H_
