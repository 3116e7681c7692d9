// halfmq-broker: runs one HalfMQ broker node until SIGINT or SIGTERM.
// SIGHUP is ignored (see main()).
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <string>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "broker/broker.h"
#include "broker/flags.h"
#include "common/asio.h"
#include "common/version.h"

DEFINE_int32(ready_fd, -1,
             "If set, write 'HOST:PORT\\n' to this file descriptor once listening, then close "
             "it (lets supervisors and tests wait for readiness without polling)");

namespace {

// jemalloc exports mallctl; glibc does not.
const char* AllocatorName() {
  return ::dlsym(RTLD_DEFAULT, "mallctl") != nullptr ? "jemalloc" : "glibc malloc";
}

}  // namespace

int main(int argc, char** argv) {
  // A closed terminal or a supervisor's "reload" sends SIGHUP, whose default
  // action would end the broker without a graceful shutdown. There is nothing
  // to reload or reopen (logs go to stderr; whoever redirects them owns the
  // file), so it is ignored, before anything else can be interrupted by it.
  std::signal(SIGHUP, SIG_IGN);
  gflags::SetUsageMessage("halfmq-broker [--listen HOST:PORT] [--data_dir DIR] [--flagfile F]");
  gflags::SetVersionString(halfmq::kHalfmqVersion);
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  google::InstallFailureSignalHandler();
  std::signal(SIGPIPE, SIG_IGN);
  // One descriptor per client connection: use all the hard limit allows.
  struct rlimit files;
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }

  LOG(INFO) << "halfmq-broker " << halfmq::kHalfmqVersion << ", allocator: " << AllocatorName();
  auto options = halfmq::broker::OptionsFromFlags();
  if (!options.ok()) {
    LOG(ERROR) << options.status();
    return 2;
  }
  auto broker = halfmq::broker::Broker::Open(*options);
  if (!broker.ok()) {
    LOG(ERROR) << "cannot start: " << broker.status();
    return 1;
  }
  // Signals are caught by the io_context; the main thread only waits and
  // then runs the graceful shutdown (never on an io thread).
  std::promise<int> stop;
  halfmq::asio::signal_set signals((*broker)->io(), SIGINT, SIGTERM);
  signals.async_wait([&stop](const boost::system::error_code& ec, int signo) {
    if (!ec) stop.set_value(signo);
  });
  auto endpoint = (*broker)->Start();
  if (!endpoint.ok()) {
    LOG(ERROR) << "cannot start: " << endpoint.status();
    return 1;
  }
  if (FLAGS_ready_fd >= 0) {
    std::string line = endpoint->address().to_string() + ":" + std::to_string(endpoint->port()) +
                       "\n";
    if (::write(FLAGS_ready_fd, line.data(), line.size()) < 0) {
      PLOG(WARNING) << "writing --ready_fd";
    }
    ::close(FLAGS_ready_fd);
  }
  int signo = stop.get_future().get();
  LOG(INFO) << "received signal " << signo;
  (*broker)->Shutdown();
  return 0;
}
