// halfmq: the HalfMQ command-line tool. See client/README.md and
// `halfmq --help`.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli/cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  halfmq::cli::CliEnv env;
  env.in = &std::cin;
  env.out = &std::cout;
  env.err = &std::cerr;
  if (const char* broker = std::getenv("HALFMQ_BROKER"); broker != nullptr && *broker != '\0') {
    env.broker = broker;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  int code = halfmq::cli::RunCli(args, env);
  std::cout.flush();
  return code;
}
